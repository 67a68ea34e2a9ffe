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
import { type ChildProcess, spawn } from 'node:child_process';
import { setupOrg, type Stack, startStack } from './harness';
import {
  AGGREGATED,
  expectedFailures,
  FIXTURE,
  listScenarios,
  NODE22,
  problems,
  type AuthProxy,
  runSuite,
  SPEC_VERSION,
  startAuthProxy,
  SUITE_TIMEOUT_MS,
  type SuiteRun,
  SWC_REGISTER,
} from './fixtures/conformance-suite';

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
    let proxy: AuthProxy;
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
