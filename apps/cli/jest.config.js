/** @type {import('jest').Config} */
module.exports = {
  displayName: 'cli',
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: require('../../jest.swc.js').transform,
  transformIgnorePatterns: require('../../jest.swc.js').transformIgnorePatterns,
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
  // The standalone gateway runs stdio servers in the same sandbox as the platform's tests.
  setupFiles: ['<rootDir>/test/worker-env.js'],
  testTimeout: 60000,
};
