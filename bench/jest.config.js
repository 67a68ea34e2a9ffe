/** The bench's own code: ratios and targets, and the echo server's two answer modes. */
/** @type {import('jest').Config} */
module.exports = {
  displayName: 'bench',
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: require('../jest.swc.js').transform,
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
};
