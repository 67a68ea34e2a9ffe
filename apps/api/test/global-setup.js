// Runs once per Jest run: migrate a template database, then clone one database per worker
// from it (CREATE DATABASE … TEMPLATE is a file copy: fast, and every worker starts clean).
// TEST_DB_PREFIX lets several runs on one machine keep apart.
const { prepareTestDatabases } = require('../../../scripts/test-db.js');

module.exports = async (globalConfig) => {
  await prepareTestDatabases({
    prefix: process.env.TEST_DB_PREFIX ?? 'toolgate_test_api',
    workers: Math.max(1, globalConfig.maxWorkers),
  });
};
