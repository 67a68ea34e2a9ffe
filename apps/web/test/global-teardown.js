module.exports = require('../../../scripts/test-db.js').jestDatabaseHooks('web').teardown;
