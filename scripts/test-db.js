// Test database helpers shared by every package's Jest setup.
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { Client } = require('pg');

const ROOT = path.resolve(__dirname, '..');
const PG = process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432';
const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function admin(fn) {
  const c = new Client({ connectionString: `${PG}/postgres` });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Migrate `${prefix}_template` from prisma/migrations, then clone `${prefix}_${n}` for each worker. */
async function prepareTestDatabases({ prefix, workers }) {
  const template = `${prefix}_template`;
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${template}`);
  });
  execFileSync(process.execPath, [path.join(ROOT, 'packages/db/node_modules/prisma/build/index.js'), 'migrate', 'deploy'], {
    cwd: path.join(ROOT, 'packages/db'),
    env: { ...process.env, DATABASE_URL: `${PG}/${template}` },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await admin(async (c) => {
    for (let n = 1; n <= workers; n++) {
      await c.query(`DROP DATABASE IF EXISTS ${prefix}_${n} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${prefix}_${n} TEMPLATE ${template}`);
    }
  });
}

/** Drop every database of a run (template and workers). */
async function dropTestDatabases(prefix) {
  await admin(async (c) => {
    const { rows } = await c.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${prefix}\\_%`]);
    for (const r of rows) await c.query(`DROP DATABASE IF EXISTS "${r.datname}" WITH (FORCE)`);
  });
}

/**
 * Jest globalSetup/globalTeardown for a package whose tests need databases. Each run gets its
 * own prefix (unless TEST_DB_PREFIX is set), so concurrent runs on one machine never collide;
 * workers inherit it through the environment.
 */
function jestDatabaseHooks(name) {
  return {
    setup: async (globalConfig) => {
      // Several projects in one Jest run share one set of databases: prepare it once.
      if (process.env.TG_TEST_DB_READY === '1') return;
      process.env.TEST_DB_PREFIX ??= `tg_test_${name}_${process.pid}`;
      await prepareTestDatabases({ prefix: process.env.TEST_DB_PREFIX, workers: Math.max(1, globalConfig.maxWorkers) });
      process.env.TG_TEST_DB_READY = '1';
    },
    teardown: async () => {
      if (process.env.TG_TEST_DB_READY !== '1') return;
      process.env.TG_TEST_DB_READY = '0';
      if (process.env.TEST_DB_PREFIX?.startsWith('tg_test_')) await dropTestDatabases(process.env.TEST_DB_PREFIX);
    },
  };
}

/** Environment of one test worker. */
function testEnv(prefix, worker) {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: `${PG}/${prefix}_${worker}`,
    // TEST_REDIS_DB_BASE keeps concurrent runs on one machine apart (BullMQ queues are shared by name).
    REDIS_URL: `${REDIS}/${(Number(process.env.TEST_REDIS_DB_BASE ?? 0) + worker) % 16}`,
    JWT_SECRET: 'test-jwt-secret-0123456789abcdef0123456789abcdef',
    TOOLGATE_SECRET_KEY: '0'.repeat(63) + '1',
    // Tests run every stdio server in the sandbox, as production does. The fixture servers and
    // their packages are the "vetted servers" an operator would list; the rest of the repo
    // (sources, .env) stays invisible to them.
    STDIO_SANDBOX: 'bwrap',
    STDIO_SANDBOX_PATHS: SANDBOX_TEST_PATHS.join(','),
    // The HTTP fixture servers listen on loopback, which tenants' upstream URLs may not reach by default.
    HTTP_UPSTREAM_ALLOW: '127.0.0.0/8,::1/128',
    // Every spec signs up and writes from 127.0.0.1 at will; the throttling specs turn it on.
    SIGNUP_PER_IP_PER_HOUR: '0',
    OAUTH_REGISTER_PER_IP_PER_HOUR: '0',
    AUTH_PER_IP_PER_MINUTE: '0',
    MANAGE_WRITES_PER_USER_PER_MINUTE: '0',
    // Hundreds of stdio starts per run: the operator log keeps warnings and errors only.
    LOG_LEVEL: 'warn',
  };
}

const SANDBOX_TEST_PATHS = ['node_modules', 'apps/gateway/node_modules', 'apps/gateway/test/fixtures', 'apps/web/node_modules'].map((p) =>
  path.join(ROOT, p),
);

module.exports = { prepareTestDatabases, dropTestDatabases, jestDatabaseHooks, testEnv, PG, REDIS };
