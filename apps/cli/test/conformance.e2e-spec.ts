/**
 * The official MCP conformance suite (server scenarios, 2025-11-25) through the standalone
 * gateway's HTTP front, fronting the project's conformance fixture as a stdio server: the same
 * runner, expected failures and verdict rule as the platform gateway's own conformance test
 * (apps/gateway/test/fixtures/conformance-suite.ts).
 */
import {
  AGGREGATED,
  type AuthProxy,
  expectedFailures,
  FIXTURE,
  listScenarios,
  NODE22,
  problems,
  runSuite,
  SPEC_VERSION,
  startAuthProxy,
  SUITE_TIMEOUT_MS,
  type SuiteRun,
  SWC_REGISTER,
} from '../../gateway/test/fixtures/conformance-suite';
import { KEY, type Running, startGateway } from './standalone';

const SCENARIOS = listScenarios();
const EXPECTED = expectedFailures();

const CONFIG = `version: 1
servers:
  conformance:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: ["-r", ${JSON.stringify(SWC_REGISTER)}, ${JSON.stringify(FIXTURE)}]
roles:
  all:
    tools: [{effect: allow, match: "*"}]
    prompts: [{effect: allow, match: "*"}]
    resources: [{effect: allow, uri: "*"}]
keys:
  suite:
    roles: [all]
    env: TEST_KEY
`;

(NODE22 ? describe : describe.skip)(`MCP conformance suite (${SPEC_VERSION}) through the standalone gateway`, () => {
  let gw: Running;
  let proxy: AuthProxy;
  let perServer: SuiteRun;
  let aggregated: SuiteRun;

  beforeAll(
    async () => {
      gw = await startGateway(CONFIG, { LOG_LEVEL: 'warn' });
      proxy = await startAuthProxy(gw.url, KEY);
      perServer = await runSuite('standalone-per-server', `${proxy.url}/mcp/local/conformance`, null);
      aggregated = await runSuite('standalone-aggregated', `${proxy.url}/mcp`, AGGREGATED);
    },
    2 * SUITE_TIMEOUT_MS + 30_000,
  );

  afterAll(async () => {
    await proxy?.close();
    await gw?.stop();
  });

  it('ran every scenario of the suite', () => {
    expect(SCENARIOS.length).toBeGreaterThan(0);
    expect([...perServer.results.keys()].sort()).toEqual([...SCENARIOS].sort());
  });

  it.each(SCENARIOS)('per-server endpoint: %s', (scenario) => {
    const checks = perServer.results.get(scenario);
    if (!checks) throw new Error(`No checks.json for ${scenario}:\n${perServer.output.slice(-4000)}`);
    const failed = problems(checks);
    // The platform's expected failures (with their reasons) hold here too: same pipeline.
    if (EXPECTED.has(scenario)) expect({ scenario, stillFails: failed.length > 0 }).toEqual({ scenario, stillFails: true });
    else expect({ scenario, failed }).toEqual({ scenario, failed: [] });
  });

  it.each(AGGREGATED)('aggregated endpoint /mcp: %s', (scenario) => {
    const checks = aggregated.results.get(scenario);
    if (!checks) throw new Error(`No checks.json for ${scenario}:\n${aggregated.output.slice(-4000)}`);
    expect({ scenario, failed: problems(checks) }).toEqual({ scenario, failed: [] });
  });
});
