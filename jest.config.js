/** Every Jest project in the repo; `pnpm test` runs them all in one go. */
/** @type {import('jest').Config} */
module.exports = {
  // testTimeout is a global option: the projects' own values are ignored in a multi-project run.
  // End-to-end suites boot real processes; on a loaded 2-core box that can take well over 5 s.
  testTimeout: 60000,
  projects: [
    '<rootDir>/packages/contracts',
    '<rootDir>/packages/policy',
    '<rootDir>/apps/api',
    '<rootDir>/apps/gateway',
    '<rootDir>/apps/cli',
    '<rootDir>/apps/web',
    '<rootDir>/infra',
    '<rootDir>/bench',
  ],
};
