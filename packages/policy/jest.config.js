/** @type {import('jest').Config} */
module.exports = {
  displayName: 'policy',
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: require('../../jest.swc.js').transform,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
