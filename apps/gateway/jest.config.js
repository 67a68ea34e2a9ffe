/** @type {import('jest').Config} */
module.exports = {
  displayName: 'gateway',
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: require('../../jest.swc.js').transform,
  transformIgnorePatterns: require('../../jest.swc.js').transformIgnorePatterns,
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/src/**/*.e2e-spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
  // End-to-end tests boot the real API too: they get databases like the API's own tests.
  globalSetup: '<rootDir>/test/global-setup.js',
  globalTeardown: '<rootDir>/test/global-teardown.js',
  setupFiles: ['<rootDir>/test/worker-env.js'],
  testTimeout: 30000,
};
