/** @type {import('jest').Config} */
module.exports = {
  displayName: 'contracts',
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: require('../../jest.swc.js').transform,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
