// Once per Jest run: test databases (see scripts/test-db.js) and a production build of the
// dashboard (skipped when .next already holds a build of these exact sources).
const hooks = require('../../../scripts/test-db.js').jestDatabaseHooks('web');

module.exports = async (globalConfig, projectConfig) => {
  await hooks.setup(globalConfig, projectConfig);
  const { buildIfStale } = await import('../scripts/build-if-stale.mjs');
  buildIfStale({ stdio: 'pipe' });
};
