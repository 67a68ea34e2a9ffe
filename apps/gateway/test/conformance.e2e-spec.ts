/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, every server scenario
 * of revision 2025-11-25, pending ones included) run against the gateway, one Jest test per
 * scenario.
 *
 * Set-up: the real control plane and a gateway worker (harness.startStack), an org whose servers
 * are our fixture (fixtures/conformance-server.ts, which implements every fixture tool, resource
 * and prompt the scenarios name) once as a stdio upstream and once as a Streamable HTTP upstream,
 * a role allowing everything and an agent key. The whole suite runs through each.
 * The suite's client sends no Authorization header, so it talks to a loopback forwarding proxy
 * that adds `Authorization: Bearer <key>` and passes everything else through unchanged (method,
 * path, headers, body, status, streamed SSE bytes), and the gateway sees exactly what the suite
 * sent plus the key.
 *
 * Endpoint: `/mcp/{org}/{server}`, which passes names through unchanged, so the fixture names
 * the scenarios call (`test_simple_text`, `test://static-text`, …) reach the fixture as they are.
 * The aggregated endpoint `/mcp/{org}` exposes them as `{server}__{name}` and `tg://{server}/…`,
 * which the name-bound scenarios cannot know; it is run too, but only the scenarios that name no
 * fixture (see AGGREGATED below) count there.
 *
 * A scenario passes when none of its checks is a FAILURE or a WARNING (the suite's baseline rule)
 * and at least one is a SUCCESS (its tier-check rule: a scenario that only reports "not
 * applicable" INFO checks verified nothing). Scenarios listed in conformance-expected-failures.yml
 * must not pass (each needs a reason); one that starts passing fails its test until the entry is
 * removed.
 *
 * The CLI needs Node 22 (it imports `globSync` from node:fs); the repo runs on Node 20, so it is
 * spawned with the Node 22 binary of the workspace package @toolgate/node22 (tools/node22).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setupOrg, type Stack, startStack } from './harness';

const SPEC_VERSION = '2025-11-25';
const CLI = require.resolve('@modelcontextprotocol/conformance/dist/index.js');
const FIXTURE = path.join(__dirname, 'fixtures/conformance-server.ts');
const SWC_REGISTER = require.resolve('@swc-node/register');
const EXPECTED_FAILURES_FILE = path.join(__dirname, 'conformance-expected-failures.yml');
/** One CLI run of the whole suite takes ~2 s here; a hung scenario must not hold Jest for ever. */
const SUITE_TIMEOUT_MS = 150_000;

/**
 * Scenarios that name no fixture (no tool, prompt or resource of the server under test), so
 * they mean the same on the aggregated endpoint, where every name carries a `{server}__` prefix.
 */
const AGGREGATED = [
  'server-initialize',
  'ping',
  'logging-set-level',
  'tools-list',
  'resources-list',
  'prompts-list',
  'server-sse-multiple-streams',
  'dns-rebinding-protection',
];

interface Check {
  id: string;
  name: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  description: string;
  errorMessage?: string;
  details?: { message?: string };
}

/** A Node >= 22 binary: this one if it is new enough, else the one @toolgate/node22 installed. */
function node22(): string | null {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  return (require('@toolgate/node22') as { nodeBinary: string | null }).nodeBinary;
}
const NODE22 = node22();

/** The suite's server scenarios for SPEC_VERSION, as `conformance list --server` prints them. */
function listScenarios(): string[] {
  if (!NODE22) return [];
  const r = spawnSync(NODE22, [CLI, 'list', '--server', '--spec-version', SPEC_VERSION], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`conformance list failed (${r.status}): ${r.stderr}`);
  return [...r.stdout.matchAll(/^\s+- (\S+)/gm)].map((m) => m[1]!);
}

/** Entries of conformance-expected-failures.yml: `server: [names]` (the CLI's baseline format) and a reason for each. */
function expectedFailures(): Map<string, string> {
  // The conformance CLI's own YAML parser (a dependency of the package, not of the gateway).
  const { parse } = require(require.resolve('yaml', { paths: [path.dirname(CLI)] })) as { parse(s: string): unknown };
  const doc = (parse(readFileSync(EXPECTED_FAILURES_FILE, 'utf8')) ?? {}) as { server?: unknown; reasons?: unknown };
  const names = Array.isArray(doc.server) ? doc.server.map(String) : [];
  const reasons = (doc.reasons ?? {}) as Record<string, unknown>;
  return new Map(names.map((n) => [n, typeof reasons[n] === 'string' ? (reasons[n] as string).trim() : '']));
}

// ---- the auth-adding proxy ------------------------------------------------------------------

/** Hop-by-hop headers: they describe one connection, and each side of the proxy frames its own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

interface Proxy {
  url: string;
  close(): Promise<void>;
}

/**
 * A loopback HTTP proxy to `target` that sets `Authorization: Bearer <key>` on every request
 * and otherwise forwards requests and responses unchanged: same method, path and query, the
 * client's headers (Host, Origin, Accept, Mcp-Session-Id, Last-Event-ID, … included), bodies
 * streamed both ways as they arrive (SSE events reach the client when the gateway writes them).
 * A client that goes away tears down its upstream request, as it would at the gateway itself.
 */
function startAuthProxy(target: string, key: string): Promise<Proxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const up = http.request(
      {
        agent,
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...endToEnd(req.headers), authorization: `Bearer ${key}` },
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, endToEnd(upRes.headers));
        res.flushHeaders();
        upRes.pipe(res);
      },
    );
    up.on('error', (e) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end(`proxy: ${e.message}`);
      } else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.on('error', () => up.destroy());
    req.pipe(up);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
            agent.destroy();
          }),
      });
    });
  });
}

// ---- running the suite ------------------------------------------------------------------------

interface SuiteRun {
  /** Checks per scenario, from each scenario's checks.json. */
  results: Map<string, Check[]>;
  /** The CLI's own output, for diagnosis. */
  output: string;
}

/**
 * `conformance server --suite all --spec-version … -o DIR` against `url` (or one run per named
 * scenario); reads DIR back.
 */
async function runSuite(label: string, url: string, scenarios: readonly string[] | null): Promise<SuiteRun> {
  // CONFORMANCE_RESULTS_DIR keeps the suite's checks files for a look afterwards (one folder per run).
  const keep = process.env.CONFORMANCE_RESULTS_DIR;
  const outDir = keep ? path.join(keep, `${label}-${Date.now()}`) : mkdtempSync(path.join(tmpdir(), 'tg-conformance-'));
  if (keep) mkdirSync(outDir, { recursive: true });
  const started = Date.now();
  let output = '';
  try {
    const runs = scenarios ? scenarios.map((s) => ['--scenario', s]) : [['--suite', 'all', '--spec-version', SPEC_VERSION]];
    for (const select of runs) {
      output += await new Promise<string>((resolve, reject) => {
        const child = spawn(NODE22!, [CLI, 'server', '--url', url, ...select, '-o', outDir], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d));
        child.stderr.on('data', (d: Buffer) => (out += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), SUITE_TIMEOUT_MS);
        child.on('error', reject);
        // Exit 1 just means "some scenario failed": the checks files are the verdict.
        child.on('close', (_code, signal) => {
          clearTimeout(timer);
          if (signal) reject(new Error(`conformance CLI killed (${signal}) after ${Date.now() - started} ms:\n${out}`));
          else resolve(out);
        });
      });
    }
    const results = new Map<string, Check[]>();
    // One directory per scenario: `server-<scenario>-<ISO timestamp with : and . replaced by ->`.
    for (const dir of readdirSync(outDir)) {
      const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/.exec(dir);
      if (!m) continue;
      results.set(m[1]!, JSON.parse(readFileSync(path.join(outDir, dir, 'checks.json'), 'utf8')) as Check[]);
    }
    return { results, output };
  } finally {
    if (!keep) rmSync(outDir, { recursive: true, force: true });
  }
}

/**
 * Why a scenario did not pass, one line per reason: its FAILURE and WARNING checks, or, when it
 * has no SUCCESS check at all, the fact that it verified nothing (with its INFO checks' notes).
 */
function problems(checks: Check[]): string[] {
  const out = checks
    .filter((c) => c.status === 'FAILURE' || c.status === 'WARNING')
    .map((c) => `${c.status} ${c.id}: ${c.description}${c.errorMessage ? ` — ${c.errorMessage}` : ''}`);
  if (!checks.some((c) => c.status === 'SUCCESS')) {
    const notes = checks.map((c) => `${c.status} ${c.id}${c.details?.message ? `: ${c.details.message}` : ''}`).join('; ');
    out.push(`no SUCCESS check, the scenario verified nothing (${notes})`);
  }
  return out;
}

/** The same fixture over Streamable HTTP (`--http`), for the gateway's HTTP backend. */
function startHttpFixture(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['-r', SWC_REGISTER, FIXTURE, '--http'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`the HTTP conformance fixture exited (${code}) before listening`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}/mcp` });
    });
  });
}

// ---- the tests ---------------------------------------------------------------------------------

/** Each backend kind the gateway relays through: the whole suite must pass through both. */
const BACKENDS = ['stdio', 'streamable-http'] as const;
type Backend = (typeof BACKENDS)[number];

const SCENARIOS = listScenarios();
const EXPECTED = expectedFailures();

const SUITE_NAME = `MCP conformance suite (server scenarios, ${SPEC_VERSION}) against the gateway`;

if (!NODE22) {
  describe(SUITE_NAME, () => {
    it('has a Node 22 to run the conformance CLI with', () => {
      throw new Error(
        'No Node >= 22 for the conformance CLI: run Jest on Node 22, or install on Linux x64, where `pnpm install` ' +
          'brings one with @toolgate/node22 (apps/gateway/tools/node22)',
      );
    });
  });
} else {
  describe(SUITE_NAME, () => {
    let stack: Stack;
    let proxy: Proxy;
    let httpFixture: ChildProcess | undefined;
    const perServer = new Map<Backend, SuiteRun>();
    let aggregated: SuiteRun;

    beforeAll(
      async () => {
        stack = await startStack();
        const http = await startHttpFixture();
        httpFixture = http.child;
        const { org, key } = await setupOrg(stack, {
          servers: [
            {
              slug: 'conformance',
              name: 'Conformance fixture (stdio)',
              transport: 'stdio',
              command: process.execPath,
              args: ['-r', SWC_REGISTER, FIXTURE],
            },
            { slug: 'conformance-http', name: 'Conformance fixture (Streamable HTTP)', transport: 'streamable-http', url: http.url },
          ],
        });
        proxy = await startAuthProxy(stack.gatewayUrl, key);
        perServer.set('stdio', await runSuite('per-server-stdio', `${proxy.url}/mcp/${org.slug}/conformance`, null));
        perServer.set('streamable-http', await runSuite('per-server-http', `${proxy.url}/mcp/${org.slug}/conformance-http`, null));
        aggregated = await runSuite('aggregated', `${proxy.url}/mcp/${org.slug}`, AGGREGATED);
      },
      3 * SUITE_TIMEOUT_MS + 30_000,
    );

    afterAll(async () => {
      await proxy?.close();
      await stack?.close();
      httpFixture?.kill();
    });

    it('knows the scenarios of the suite', () => {
      expect(SCENARIOS.length).toBeGreaterThan(0);
    });

    it('lists a reason for every expected failure, and only known scenarios', () => {
      for (const [name, reason] of EXPECTED) {
        expect({ name, known: SCENARIOS.includes(name) }).toEqual({ name, known: true });
        expect({ name, reason: reason.length > 20 }).toEqual({ name, reason: true });
      }
    });

    it('ran every scenario it lists', () => {
      for (const run of perServer.values()) expect([...run.results.keys()].sort()).toEqual([...SCENARIOS].sort());
      expect([...aggregated.results.keys()].sort()).toEqual([...AGGREGATED].sort());
    });

    describe.each(BACKENDS)('per-server endpoint /mcp/{org}/{server}, the fixture as a %s upstream', (backend) => {
      const titled = SCENARIOS.map((s) => [EXPECTED.has(s) ? `${s} (expected failure, see conformance-expected-failures.yml)` : s, s]);
      it.each(titled)('%s', (_title, scenario) => {
        const run = perServer.get(backend)!;
        const checks = run.results.get(scenario);
        if (!checks) throw new Error(`No checks.json for ${scenario}. Conformance CLI output:\n${run.output.slice(-4000)}`);
        const failed = problems(checks);
        const reason = EXPECTED.get(scenario);
        if (reason === undefined) {
          expect({ scenario, failed }).toEqual({ scenario, failed: [] });
        } else {
          // Listed as an expected failure: passing means the entry is stale and must go.
          expect({ scenario, expectedFailure: reason, stillFails: failed.length > 0 }).toEqual({
            scenario,
            expectedFailure: reason,
            stillFails: true,
          });
        }
      });
    });

    describe('aggregated endpoint /mcp/{org} (scenarios that name no fixture)', () => {
      it.each(AGGREGATED)('%s', (scenario) => {
        const checks = aggregated.results.get(scenario);
        if (!checks) throw new Error(`No checks.json for ${scenario}. Conformance CLI output:\n${aggregated.output.slice(-4000)}`);
        expect({ scenario, failed: problems(checks) }).toEqual({ scenario, failed: [] });
      });
    });
  });
}
