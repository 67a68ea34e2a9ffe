/** Every Jest project in the repo; `pnpm test` runs them all in one go. */
/** @type {import('jest').Config} */
module.exports = {
  projects: [
    '<rootDir>/packages/contracts',
    '<rootDir>/packages/policy',
    '<rootDir>/apps/api',
    '<rootDir>/apps/gateway',
    '<rootDir>/apps/web',
  ],
};
