/** Deployment tests: render docker-compose.yml and the Kubernetes overlays, and the start script. */
/** @type {import('jest').Config} */
module.exports = {
  displayName: 'infra',
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: require('../jest.swc.js').transform,
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
};
