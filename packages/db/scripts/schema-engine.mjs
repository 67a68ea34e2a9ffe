#!/usr/bin/env node
// Air-gapped stand-in for Prisma's native `schema-engine` binary.
//
// The Prisma CLI normally downloads a native schema engine and spawns it. `prisma.config.ts` points
// PRISMA_SCHEMA_ENGINE_BINARY at this file instead, so the CLI spawns *this script* and talks to it
// exactly as it would to the native binary. We answer with the WebAssembly build of the same engine
// (`@prisma/schema-engine-wasm`), which reaches Postgres through `@prisma/adapter-pg`.
//
// The contract with the CLI (prisma 7.10.x, see `SchemaEngineCLI` in prisma/build/cli.js):
//
//   schema-engine --version
//       Print "schema-engine-cli <hash>" on stdout, exit 0.
//
//   schema-engine --datasource '{"url":...}' cli <can-connect-to-database|create-database|drop-database>
//       One-shot. Exit 0 on success. On failure exit 1 and write newline-separated JSON log lines to
//       stderr; the CLI skips the first line and looks for
//       {"level":"ERROR","target":"schema_engine::logger","fields":{"error_code":"P1003","message":...}}.
//
//   schema-engine [--datamodels <file>]... [--datasource <json>] [--enabled-preview-features a,b]
//       Long-running JSON-RPC 2.0 server, one JSON object per line on stdin/stdout. Errors are returned
//       as {code: 4466, message, data: {is_panic, message, error_code, meta}}. While answering `diff` we
//       send a `print` request to the CLI (that is how the native engine outputs the script). Our
//       stderr carries JSON log lines (the CLI keeps the last ERROR line for its messages). We must
//       stay alive until stdin closes: if we exit early with code 0 the CLI silently exits 0 too.
//
// Workarounds for the Wasm engine (8.1.0-2.59be4fda) + adapter-pg 7.10.1 (see README.md):
//   * The engine reads Postgres' internal `"char"` type (OID 18) from the catalog, which adapter-pg
//     rejects ("Column type 'char' could not be deserialized"). We relabel such columns as text.
//   * adapter-pg's executeScript() splits scripts on ";" and runs each piece in autocommit, which breaks
//     PL/pgSQL bodies and string literals containing ";" and leaves a failing migration half-applied.
//     We send the script whole, like the native engine (one simple-protocol query = one implicit
//     transaction), and rebuild the native P3018 message from the Postgres error when it fails.
//   * adapter-pg's shadow-database helper drops the database while its own pool is still connected
//     (so the DROP fails and shadow databases pile up). We create `<db>_shadow_<random>` ourselves
//     through the `postgres` maintenance database and drop it after closing the pool (and on exit,
//     SIGINT/SIGTERM included). A configured `shadowDatabaseUrl` is wiped before use instead.
//   * evaluateDataLoss/createMigration get no shadow database in the Wasm engine; when `migrate dev`
//     first applies a pending migration they fail. We prime the engine's cache and retry (see
//     needsShadowSchemaPriming()).
//   * The engine connects while starting, so every command needs a reachable database. `migrate diff`
//     between schema files/migrations falls back to the server's `postgres` database when the
//     configured database does not exist yet. Start-up errors carry no error code, so we ask Postgres
//     ourselves to report P1001/P1003/... like the native engine.
//   * The engine is not re-entrant: requests are served one at a time, in order. After a Rust panic
//     the instance is unusable, so later requests get the same panic back.
//   * One pooled connection that never idles out, mirroring the native engine's single connection
//     (it takes a session-level pg_advisory_lock and relies on the session to release it).

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(import.meta.url);
const WASM_GLUE = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg'); // JS glue next to the .wasm
const WASM_DIR = path.dirname(WASM_GLUE);
// e.g. "8.1.0-2.59be4fda…": the engine's git hash is the last dot-separated part.
const ENGINE_VERSION = JSON.parse(fs.readFileSync(path.join(WASM_DIR, 'package.json'), 'utf8'))
  .version.split('.')
  .pop();
const RPC_ERROR_CODE = 4466; // what the native engine uses for all engine errors
const EMPTY_FILTER = { externalTables: [], externalEnums: [] };

// ---------------------------------------------------------------------------------------------
// Logging: JSON lines on stderr, in the native engine's shape.

function log(level, message, fields = {}) {
  const line = { timestamp: new Date().toISOString(), level, fields: { message, ...fields }, target: 'schema_engine::logger' };
  process.stderr.write(`${JSON.stringify(line)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Errors. `UserFacingError` carries a Prisma error code (P1001...) and a message, like the native
// engine's user-facing errors.

class UserFacingError extends Error {
  constructor(code, message, meta = null) {
    super(message);
    this.code = code;
    this.meta = meta;
  }
}

/** Describe a failed `pg` connection/statement the way the native engine would. */
function classifyPgError(error, config) {
  const at = `${config.host ?? 'localhost'}:${config.port ?? 5432}`;
  const code = error?.code;
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNRESET'].includes(code)) {
    return new UserFacingError(
      'P1001',
      `Can't reach database server at \`${at}\`\n\nPlease make sure your database server is running at \`${at}\`.`,
    );
  }
  if (code === 'ETIMEDOUT' || /timeout/i.test(error?.message ?? '')) {
    return new UserFacingError(
      'P1002',
      `The database server at \`${at}\` was reached but timed out.\n\nPlease try again.\n\nPlease make sure your database server is running at \`${at}\`.`,
    );
  }
  if (/Connection terminated unexpectedly/.test(error?.message ?? '')) {
    return new UserFacingError('P1017', `Server has closed the connection. (${at})`);
  }
  if (code === '3D000') {
    return new UserFacingError('P1003', `Database \`${config.database}\` does not exist on the database server at \`${at}\`.`);
  }
  if (code === '28P01' || code === '28000') {
    return new UserFacingError(
      'P1000',
      `Authentication failed against database server at \`${at}\`, the provided database credentials for \`${config.user}\` are not valid.\n\nPlease make sure to provide valid database credentials for the database server at \`${at}\`.`,
    );
  }
  if (code === '42P04') {
    return new UserFacingError('P1009', `Database \`${config.database}\` already exists on the database server at \`${at}\``);
  }
  if (code === '42501') {
    return new UserFacingError('P1010', `User \`${config.user}\` was denied access on the database \`${config.database}\``);
  }
  return null;
}

/** Turn anything thrown by the Wasm engine (or by us) into JSON-RPC error `data`. */
function toErrorData(error, errorRegistry) {
  if (error instanceof WebAssembly.RuntimeError) {
    // A Rust panic inside the engine.
    const message = lastPanicMessage ?? error.message;
    return { is_panic: true, message, backtrace: error.stack, error: { message } };
  }
  const full = error?.message ?? String(error);
  // Keep the engine's full message (with its span trace) in the log.
  if (!(error instanceof UserFacingError)) log('DEBUG', full);
  // Wasm engine messages end with a tracing span trace ("   0: sql_schema_connector::..."); the
  // native engine does not show it to users.
  const trace = full.search(/\n\s+0: /);
  let message = trace >= 0 ? full.slice(0, trace) : full;
  // Errors thrown in JS inside the driver adapter are stashed in a registry and reach the engine as
  // "External error id#<n>"; put the original error back.
  const external = /External error id#(\d+)/.exec(full);
  const original = external && errorRegistry?.consumeError(Number(external[1]))?.error;
  if (original instanceof UserFacingError) error = original;
  else if (original) message = message.replace(external[0], original.message ?? String(original));
  if (error instanceof UserFacingError) message = error.message;
  return { is_panic: false, message, meta: error?.meta ?? null, error_code: typeof error?.code === 'string' ? error.code : null };
}

/**
 * The Wasm engine reports a failed migration script as "external connector error" plus its own
 * paraphrase of the Postgres error. Rebuild the native engine's message (P3018 for the live
 * database) from the Postgres error we saw in executeScript().
 */
function describeScriptFailure(method, error, pgError) {
  const migration = /migration_name="([^"]+)"/.exec(error?.message ?? '')?.[1];
  const dbError = [
    `Database error code: ${pgError.code}`,
    `Database error:\n${pgError.severity}: ${pgError.message}`,
    pgError.detail && `DETAIL: ${pgError.detail}`,
    pgError.hint && `HINT: ${pgError.hint}`,
  ]
    .filter(Boolean)
    .join('\n\n');
  if (method === 'applyMigrations' && migration) {
    return new UserFacingError(
      'P3018',
      `A migration failed to apply. New migrations cannot be applied before the error is recovered from. Read more about how to resolve migration issues in a production database: https://pris.ly/d/migrate-resolve\n\nMigration name: ${migration}\n\n${dbError}`,
    );
  }
  const first = error.message.split('\n')[0];
  return Object.assign(new Error(`${migration ? `Migration \`${migration}\` failed to apply.\n\n` : `${first}\n\n`}${dbError}`), {
    code: error.code,
  });
}

// ---------------------------------------------------------------------------------------------
// Connection settings. We use pg's own URL parser and pass config objects around (a connection
// string would override any `database` we set for the shadow/maintenance connections).

let pgModule;
async function loadPg() {
  pgModule ??= (await import('pg')).default;
  return pgModule;
}

let parseConnectionString;
function parseDatabaseUrl(url) {
  parseConnectionString ??= createRequire(require.resolve('pg'))('pg-connection-string').parse;
  // Prisma-style parameters: `schema` (-> search_path and the adapter's schema), `connect_timeout` (s).
  const { schema, connect_timeout, ...config } = parseConnectionString(url);
  config.connectionTimeoutMillis = Number(connect_timeout ?? 5) * 1000;
  if (schema) config.options = `${config.options ?? ''} -c search_path="${schema.replaceAll('"', '""')}"`.trim();
  return { config, schema };
}

async function withClient(config, fn) {
  const { Client } = await loadPg();
  const client = new Client(config);
  client.on('error', () => {}); // errors surface through the awaited calls below
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const quoteIdent = (name) => `"${name.replaceAll('"', '""')}"`;

/** Run `fn` on a client connected to the server's maintenance database. */
async function withMaintenanceClient(config, fn) {
  try {
    return await withClient({ ...config, database: 'postgres' }, fn);
  } catch (error) {
    // No `postgres` database: try template1.
    if (error?.code !== '3D000') throw error;
    return await withClient({ ...config, database: 'template1' }, fn);
  }
}

async function createDatabase(config) {
  await withMaintenanceClient(config, (c) => c.query(`CREATE DATABASE ${quoteIdent(config.database)}`));
}

async function dropDatabase(config, name) {
  await withMaintenanceClient(config, async (c) => {
    try {
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    } catch (error) {
      // Postgres < 13 has no WITH (FORCE).
      if (error?.code !== '42601') throw error;
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Driver adapter: PrismaPg with the workarounds described at the top of this file.

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

/** Patch an adapter-pg queryable (adapter or transaction) in place. */
function patchQueryable(queryable) {
  const performIO = queryable.performIO.bind(queryable);
  queryable.performIO = async (query) => {
    const result = await performIO(query);
    for (const field of result?.fields ?? []) {
      if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
    }
    return result;
  };
  return queryable;
}

/** The last Postgres error raised by a script (migration), for error messages. Reset per request. */
let lastScriptError = null;

function patchAdapter(adapter) {
  patchQueryable(adapter);
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (...args) => patchQueryable(await startTransaction(...args));
  adapter.executeScript = async (script) => {
    try {
      await adapter.client.query(script); // whole script, simple query protocol
    } catch (error) {
      if (typeof error?.code === 'string' && typeof error?.severity === 'string') lastScriptError = error;
      adapter.onError(error); // rethrows as a DriverAdapterError
    }
  };
  return adapter;
}

// Temporary shadow databases that may exist, and in-flight CREATE/DROP DATABASE statements. Both
// are tracked so that an exit (stdin closed, SIGINT/SIGTERM) in the middle of a command still
// drops every shadow database, including one whose CREATE was still running.
const shadowDatabases = new Set();
const shadowDatabaseOps = new Set();
let shuttingDown = false;

function trackShadowOp(promise) {
  shadowDatabaseOps.add(promise);
  promise.then(
    () => shadowDatabaseOps.delete(promise),
    () => shadowDatabaseOps.delete(promise),
  );
  return promise;
}

async function openAdapter({ config, schema }) {
  const { PrismaPg } = await import('@prisma/adapter-pg');
  // One connection, kept for the whole session (see header).
  const factory = new PrismaPg({ ...config, max: 1, idleTimeoutMillis: 0 }, schema ? { schema } : undefined);
  return patchAdapter(await factory.connect());
}

async function openTemporaryShadowDb(main) {
  const base = (main.config.database ?? 'postgres').slice(0, 40); // identifiers max out at 63 bytes
  const name = `${base}_shadow_${randomBytes(4).toString('hex')}`;
  if (shuttingDown) throw new Error('The schema engine is shutting down.');
  shadowDatabases.add(name);
  try {
    await trackShadowOp(createDatabase({ ...main.config, database: name }));
  } catch (error) {
    shadowDatabases.delete(name);
    throw new UserFacingError(
      'P3014',
      `Prisma Migrate could not create the shadow database. Please make sure the database user has permission to create databases. Read more about the shadow database (and workarounds) at https://pris.ly/d/migrate-shadow\n\nOriginal error: ${error?.code ? `${error.code}: ` : ''}${error?.message ?? error}`,
    );
  }
  log('INFO', `Created temporary shadow database \`${name}\``);
  const adapter = await openAdapter({ ...main, config: { ...main.config, database: name } });
  const dispose = adapter.dispose.bind(adapter);
  adapter.dispose = async () => {
    await dispose(); // close the pool first, then drop
    await dropShadowDatabase(main.config, name);
  };
  return adapter;
}

async function dropShadowDatabase(config, name) {
  if (!shadowDatabases.has(name)) return;
  await trackShadowOp(dropDatabase(config, name));
  shadowDatabases.delete(name);
  log('INFO', `Dropped temporary shadow database \`${name}\``);
}

/** A configured `shadowDatabaseUrl`: like the native engine, refuse the main database, then wipe it. */
async function openConfiguredShadowDb(main, shadowDatabaseUrl) {
  const shadow = parseDatabaseUrl(shadowDatabaseUrl);
  const where = ({ config: c }) => `${c.host}:${c.port ?? 5432}/${c.database}`;
  if (where(shadow) === where(main)) {
    throw new Error(
      'The shadow database you configured appears to be the same as the main database. Please specify another shadow database.',
    );
  }
  const schema = quoteIdent(shadow.schema ?? 'public');
  await withClient(shadow.config, (c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema};`));
  return openAdapter(shadow);
}

function createAdapterFactory(main, shadowDatabaseUrl) {
  return {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    connect: () => openAdapter(main),
    connectToShadowDb: () => (shadowDatabaseUrl ? openConfiguredShadowDb(main, shadowDatabaseUrl) : openTemporaryShadowDb(main)),
  };
}

// ---------------------------------------------------------------------------------------------
// The Wasm engine.

// The engine's panic hook reports the panic message here before trapping with
// `RuntimeError: unreachable` (the Prisma CLI installs the same global).
let lastPanicMessage = null;
globalThis.PRISMA_WASM_PANIC_REGISTRY ??= {
  set_message(message) {
    lastPanicMessage = message;
  },
};

let wasmModule;
async function loadWasmEngine() {
  if (wasmModule) return wasmModule;
  // The package's entry point does `import * as wasm from "./schema_engine_bg.wasm"`, which Node 20
  // cannot load without --experimental-wasm-modules, so instantiate the module by hand.
  const glue = await import(WASM_GLUE);
  const bytes = await fs.promises.readFile(path.join(WASM_DIR, 'schema_engine_bg.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': glue });
  glue.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();
  wasmModule = glue;
  return glue;
}

async function startEngine(main, shadowDatabaseUrl, datamodels) {
  const { SchemaEngine } = await loadWasmEngine();
  const { bindMigrationAwareSqlAdapterFactory } = await import('@prisma/driver-adapter-utils');
  const adapterFactory = bindMigrationAwareSqlAdapterFactory(createAdapterFactory(main, shadowDatabaseUrl));
  // The engine's log lines are already JSON in the native format: pass them through.
  const onLog = (line) => process.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
  try {
    const engine = await SchemaEngine.new({ datamodels: datamodels.length > 0 ? datamodels : undefined }, onLog, adapterFactory);
    return { engine, errorRegistry: adapterFactory.errorRegistry };
  } catch (error) {
    // Start-up errors come without an error code; ask Postgres directly what is wrong.
    const probe = await withClient(main.config, () => null).catch((e) => classifyPgError(e, main.config) ?? e);
    throw probe instanceof UserFacingError ? probe : error;
  }
}

// ---------------------------------------------------------------------------------------------
// Command line.

function parseArgs(argv) {
  const args = { datamodels: [], datasource: null, cli: null, version: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--version' || arg === '-V') args.version = true;
    else if (arg === '--datamodels' || arg === '-d') args.datamodels.push(argv[++i]);
    else if (arg === '--datasource') args.datasource = JSON.parse(argv[++i]);
    // Ignored: the Wasm engine reads preview features from the schema and has no extension types.
    else if (arg === '--enabled-preview-features' || arg === '--extension-types') i++;
    else if (arg === 'cli') args.cli = argv[++i] ?? '';
    else if (arg === '--help' || arg === '-h') args.help = true;
  }
  return args;
}

function datasourceUrl(args) {
  const url = args.datasource?.url ?? process.env.DATABASE_URL;
  if (!url) throw new UserFacingError('P1012', 'No database URL: pass --datasource \'{"url":...}\' or set DATABASE_URL.');
  return url;
}

/** `schema-engine cli <command>`: one-shot commands used by the CLI to create the database. */
async function runCliCommand(args) {
  log('INFO', 'Starting schema engine CLI (wasm shim)', { git_hash: ENGINE_VERSION }); // the CLI skips line 1
  try {
    const { config } = parseDatabaseUrl(datasourceUrl(args));
    const fail = (error) => {
      throw classifyPgError(error, config) ?? error;
    };
    switch (args.cli) {
      case 'can-connect-to-database':
        await withClient(config, () => null).catch(fail);
        break;
      case 'create-database':
        await createDatabase(config).catch(fail);
        log('INFO', `Database '${config.database}' was successfully created.`);
        break;
      case 'drop-database':
        await dropDatabase(config, config.database).catch(fail);
        log('INFO', `The database '${config.database}' was successfully dropped.`);
        break;
      default:
        throw new Error(`Unknown cli command: ${args.cli}`);
    }
    return 0;
  } catch (error) {
    const fields = error instanceof UserFacingError ? { error_code: error.code } : {};
    log('ERROR', error?.message ?? String(error), fields);
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC server.

function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** Requests we send to the CLI (only `print`), keyed by id. */
const outgoing = new Map();
let nextOutgoingId = 1;
let stdinClosed = false;
function requestFromCli(method, params) {
  const id = nextOutgoingId++;
  return new Promise((resolve) => {
    send({ jsonrpc: '2.0', id, method, params });
    // Once stdin is closed nobody is left to answer.
    if (stdinClosed) resolve(null);
    else outgoing.set(id, resolve);
  });
}

/** RPC method name -> wasm method name, for the methods that map one to one. */
const PASS_THROUGH = {
  applyMigrations: 'applyMigrations',
  createMigration: 'createMigration',
  dbExecute: 'dbExecute',
  devDiagnostic: 'devDiagnostic',
  diagnoseMigrationHistory: 'diagnoseMigrationHistory',
  ensureConnectionValidity: 'ensureConnectionValidity',
  evaluateDataLoss: 'evaluateDataLoss',
  getDatabaseVersion: 'version',
  introspect: 'introspect',
  introspectSql: 'introspectSql',
  markMigrationApplied: 'markMigrationApplied',
  markMigrationRolledBack: 'markMigrationRolledBack',
  reset: 'reset',
  schemaPush: 'schemaPush',
};

/**
 * In the Wasm engine only devDiagnostic/diagnoseMigrationHistory/diff receive the shadow-database
 * factory; evaluateDataLoss and createMigration can only use a schema that one of those already
 * computed for the *same* migration list (the engine caches schemas per list). `migrate dev` with a
 * pending migration applies it after devDiagnostic, so the list it then evaluates was never
 * computed and the engine fails with "PostgreSQL shadow DB must be provided through an external
 * factory". The native engine has its own shadow database and never hits this.
 */
function needsShadowSchemaPriming(method, params, error) {
  return (
    (method === 'evaluateDataLoss' || method === 'createMigration') &&
    params?.migrationsList &&
    /shadow DB must be provided through an external factory/.test(error?.message ?? '')
  );
}

/** Does this `diff` request read the live database? If not, any database on the server will do. */
function diffNeedsLiveDatabase(params) {
  const live = new Set(['url', 'schemaDatasource']);
  return live.has(params?.from?.tag) || live.has(params?.to?.tag);
}

async function serve(args) {
  const url = datasourceUrl(args);
  const main = parseDatabaseUrl(url);
  const shadowDatabaseUrl = args.datasource?.shadowDatabaseUrl ?? null;
  const datamodels = args.datamodels.map((file) => [file, fs.readFileSync(path.resolve(file), 'utf8')]);
  let engineState; // Promise<{engine, errorRegistry}>, created by the first request
  let panicked = null; // the RuntimeError of a Rust panic, once one happened

  // The engine connects while starting, so we start it lazily: for a first `diff` request that does
  // not touch the live database we may fall back to the maintenance database.
  function getEngine(method, params) {
    engineState ??= startEngine(main, shadowDatabaseUrl, datamodels).catch(async (error) => {
      if (error?.code !== 'P1003' || method !== 'diff' || diffNeedsLiveDatabase(params)) throw error;
      log('INFO', `Database \`${main.config.database}\` does not exist; using \`postgres\` for this diff`);
      return startEngine({ ...main, config: { ...main.config, database: 'postgres' } }, shadowDatabaseUrl, datamodels);
    });
    return engineState;
  }

  async function handle(method, params) {
    if (method === 'createDatabase') {
      const target = params?.datasource?.tag === 'ConnectionString' ? parseDatabaseUrl(params.datasource.url) : main;
      await createDatabase(target.config).catch((e) => {
        throw classifyPgError(e, target.config) ?? e;
      });
      return { databaseName: target.config.database };
    }
    // After a Rust panic the Wasm instance must not be used again; repeat the panic instead.
    if (panicked) throw panicked;
    const { engine, errorRegistry } = await getEngine(method, params);
    try {
      if (method === 'diff') {
        // The native engine prints the diff through a `print` request and returns `stdout: null`.
        const { stdout, ...rest } = await engine.diff(params);
        if (stdout) await requestFromCli('print', { content: stdout });
        return { ...rest, stdout: null };
      }
      if (method === 'debugPanic') return engine.debugPanic();
      const wasmMethod = PASS_THROUGH[method];
      if (!wasmMethod) {
        throw Object.assign(new Error(`Method not found: ${method}`), { rpcCode: -32601 });
      }
      try {
        return await engine[wasmMethod](params);
      } catch (error) {
        if (!needsShadowSchemaPriming(method, params, error)) throw error;
        // See needsShadowSchemaPriming(): let diagnoseMigrationHistory (which does get a shadow
        // database) compute and cache the schema of this migration history, then retry.
        log('INFO', `${method}: priming the migration schema cache through diagnoseMigrationHistory`);
        await engine.diagnoseMigrationHistory({
          migrationsList: params.migrationsList,
          optInToShadowDatabase: true,
          filters: params.filters ?? EMPTY_FILTER,
        });
        return await engine[wasmMethod](params);
      }
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError) panicked = error;
      if (lastScriptError && /^external connector error/.test(error?.message ?? '')) {
        throw describeScriptFailure(method, error, lastScriptError);
      }
      error.errorRegistry = errorRegistry;
      throw error;
    }
  }

  // Serve requests strictly one at a time, in arrival order.
  let queue = Promise.resolve();
  function enqueue(request) {
    queue = queue.then(async () => {
      lastScriptError = null;
      try {
        const result = await handle(request.method, request.params);
        send({ jsonrpc: '2.0', id: request.id, result: result ?? {} });
      } catch (error) {
        if (error?.rpcCode) {
          send({ jsonrpc: '2.0', id: request.id, error: { code: error.rpcCode, message: error.message } });
          return;
        }
        const data = toErrorData(error, error?.errorRegistry);
        if (data.is_panic) log('ERROR', data.message, { is_panic: true });
        const message = data.is_panic ? data.message : 'An error happened. Check the data field for details.';
        send({ jsonrpc: '2.0', id: request.id, error: { code: RPC_ERROR_CODE, message, data } });
      }
    });
  }

  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
      return;
    }
    if (typeof message.method === 'string') enqueue(message);
    else if (outgoing.has(message.id)) {
      outgoing.get(message.id)(message);
      outgoing.delete(message.id);
    }
  });

  // stdin closed: the CLI is done with us. Finish what is in flight, clean up, exit.
  lines.on('close', async () => {
    stdinClosed = true;
    for (const resolve of outgoing.values()) resolve(null);
    await queue;
    await shutdown(0);
  });
}

async function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  await cleanupShadowDatabases();
  process.exit(code);
}

let mainConfigForCleanup = null;
async function cleanupShadowDatabases() {
  if (!mainConfigForCleanup) return;
  await Promise.allSettled([...shadowDatabaseOps]);
  for (const name of [...shadowDatabases]) {
    await dropShadowDatabase(mainConfigForCleanup, name).catch((e) =>
      log('WARN', `Could not drop shadow database \`${name}\`: ${e.message}`),
    );
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    log('ERROR', `Invalid arguments: ${error.message}`);
    process.exit(1);
  }
  if (args.version) {
    process.stdout.write(`schema-engine-cli ${ENGINE_VERSION}\n`);
    return;
  }
  if (args.help) {
    process.stdout.write('Usage: schema-engine.mjs [--datamodels <file>]... [--datasource <json>] [cli <command>] | --version\n');
    return;
  }
  if (args.cli !== null) {
    process.exitCode = await runCliCommand(args);
    return;
  }

  process.stdout.on('error', () => {}); // the CLI may go away before reading our last line
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => shutdown(0));
  process.on('uncaughtException', (error) => {
    log('ERROR', error?.stack ?? String(error));
    cleanupShadowDatabases().finally(() => process.exit(1));
  });

  try {
    mainConfigForCleanup = parseDatabaseUrl(datasourceUrl(args)).config;
    await serve(args);
  } catch (error) {
    // Could not even start serving (bad arguments, unreadable schema...). Exit 1 so that the CLI
    // reports "Error in Schema engine: <last ERROR message>".
    log('ERROR', error?.message ?? String(error));
    process.exit(1);
  }
}

await main();
