/** Browser tests: playwright-core driving Debian's Chromium against the real stack. */
/** @type {import('jest').Config} */
module.exports = {
  displayName: 'web',
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: require('../../jest.swc.js').transform,
  transformIgnorePatterns: require('../../jest.swc.js').transformIgnorePatterns,
  testMatch: ['<rootDir>/test/**/*.e2e-spec.ts', '<rootDir>/src/**/*.spec.ts'],
  globalSetup: '<rootDir>/test/global-setup.js',
  globalTeardown: '<rootDir>/test/global-teardown.js',
  setupFiles: ['<rootDir>/test/worker-env.js'],
  testTimeout: 120000,
};
