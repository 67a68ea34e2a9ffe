// Per worker: its own database (cloned by global-setup), its own Redis DB index, test secrets.
const { testEnv } = require('../../../scripts/test-db.js');

Object.assign(process.env, testEnv(process.env.TEST_DB_PREFIX, Number(process.env.JEST_WORKER_ID ?? 1)));
