// The gateway's own test environment (sandbox paths, loopback upstreams, quiet logs); the
// standalone gateway needs no database or Redis, so nothing of those is set up here.
const { testEnv } = require('../../../scripts/test-db.js');

const env = testEnv(process.env.TEST_DB_PREFIX, Number(process.env.JEST_WORKER_ID ?? 1));
for (const name of ['STDIO_SANDBOX', 'STDIO_SANDBOX_PATHS', 'HTTP_UPSTREAM_ALLOW', 'LOG_LEVEL']) process.env[name] = env[name];
