// Once per Jest run: a migrated template database, cloned once per worker (see scripts/test-db.js).
module.exports = require('../../../scripts/test-db.js').jestDatabaseHooks('api').setup;
