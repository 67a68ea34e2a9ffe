module.exports = require('../../../scripts/test-db.js').jestDatabaseHooks('gw').teardown;
