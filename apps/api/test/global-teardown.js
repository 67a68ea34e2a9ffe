module.exports = require('../../../scripts/test-db.js').jestDatabaseHooks('api').teardown;
