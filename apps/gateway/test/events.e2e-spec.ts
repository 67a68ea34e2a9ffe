/**
 * The record of every call: one audit job per request on the BullMQ queue `tg-audit` (and a
 * usage job on `tg-usage`), with the decision, outcome, rule, latency and sizes, and with the
 * arguments redacted exactly like responses are (injected secrets, the role's patterns).
 */
import { randomBytes } from 'node:crypto';
import { AuditEvent, QueueName, type UsageEvent } from '@toolgate/contracts';
import { GW_STDIO_SERVER, auditEvents, queuedEvents, createOrg, everythingServer, type Org, sleep, textOf } from './fixtures/gw-helpers';
import { type StreamableFixture, startStreamableFixture } from './fixtures/http-mcp-server';
import { waitFor } from './fixtures/stdio-helpers';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(30_000);

let stack: Stack;
let upstream: StreamableFixture;
let o: Org;
const secret = `sk-audit-${randomBytes(10).toString('hex')}`;

beforeAll(async () => {
  [stack, upstream] = await Promise.all([startStack(), startStreamableFixture()]);
  o = await createOrg(stack, {
    roleName: 'audited',
    secrets: { API_TOKEN: secret },
    servers: [
      everythingServer('everything', { env: { API_TOKEN: { secret: 'API_TOKEN' } } }),
      { slug: 'crashy', name: 'Crashy', transport: 'stdio', command: process.execPath, args: [GW_STDIO_SERVER] },
      { slug: 'fixture', name: 'HTTP fixture', transport: 'streamable-http', url: upstream.url },
    ],
    rules: {
      tools: [
        { effect: 'allow', match: '*' },
        { effect: 'deny', match: 'everything__get-env' },
      ],
      prompts: [{ effect: 'allow', match: '*' }],
      resources: [{ effect: 'allow', uri: '*' }],
      rateLimits: [{ scope: 'tool', match: 'everything__get-sum', perMinute: 1, burst: 1 }],
      redact: [{ name: 'email', pattern: '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}' }],
    },
  });
});
afterAll(async () => {
  await stack.close();
  await upstream.close();
});

it('emits one well-formed audit event per request, with decision, outcome, rule, latency and bytes', async () => {
  const client = await connect(`${stack.gatewayUrl}/mcp/${o.org.slug}`, o.key);
  const sessionId = (client.transport as unknown as { sessionId: string }).sessionId;
  try {
    await client.listTools();
    await client.callTool({ name: 'everything__echo', arguments: { message: `mail ada@example.com with ${secret}` } });
    await client.getPrompt({ name: 'everything__args-prompt', arguments: { city: 'Porto' } });
    await client.readResource({ uri: 'tg://everything/demo://resource/dynamic/text/1' });
    await client.complete({
      ref: { type: 'ref/prompt', name: 'everything__completable-prompt' },
      argument: { name: 'department', value: 'S' },
    });
    await client.callTool({ name: 'everything__get-env', arguments: {} }).catch(() => undefined); // denied
    await client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } });
    await client.callTool({ name: 'everything__get-sum', arguments: { a: 3, b: 4 } }).catch(() => undefined); // rate limited
    await client.callTool({ name: 'crashy__crash', arguments: {} }).catch(() => undefined); // upstream dies
  } finally {
    await client.close();
  }

  const mine = (events: AuditEvent[]) => events.filter((e) => e.sessionId === sessionId);
  const events = mine(await auditEvents(stack, o.org.id, (ev) => mine(ev).length >= 10));
  // Every event is valid per the contract the consumer parses with.
  for (const e of events) expect(AuditEvent.safeParse(e).success).toBe(true);
  const by = (method: string, target: string | null) => events.filter((e) => e.method === method && e.target === target);

  expect(by('initialize', null)).toHaveLength(1);
  expect(by('tools/list', null)).toHaveLength(1);

  const [echo] = by('tools/call', 'echo');
  expect(echo).toMatchObject({
    serverSlug: 'everything',
    decision: 'allow',
    outcome: 'ok',
    rule: 'role:audited/tools[0]',
    keyId: o.keyId,
    clientName: 'toolgate-e2e',
    error: null,
  });
  expect(echo!.latencyMs).toBeGreaterThan(0);
  expect(echo!.bytesIn).toBeGreaterThan(50);
  expect(echo!.bytesOut).toBeGreaterThan(20);
  expect(echo!.ip).toMatch(/127\.0\.0\.1/);
  // Arguments are stored redacted: neither the injected secret nor the e-mail address survives.
  expect(echo!.arguments).toEqual({ message: 'mail [REDACTED:email] with [REDACTED:secret]' });

  expect(by('prompts/get', 'args-prompt')[0]).toMatchObject({ decision: 'allow', outcome: 'ok', rule: 'role:audited/prompts[0]' });
  expect(by('resources/read', 'demo://resource/dynamic/text/1')[0]).toMatchObject({
    decision: 'allow',
    outcome: 'ok',
    rule: 'role:audited/resources[0]',
  });
  expect(by('completion/complete', 'completable-prompt')[0]).toMatchObject({ decision: 'allow', outcome: 'ok' });

  expect(by('tools/call', 'get-env')[0]).toMatchObject({
    decision: 'deny',
    outcome: 'denied',
    rule: 'role:audited/tools[1]',
    error: expect.stringContaining('denied'),
  });

  const sums = by('tools/call', 'get-sum');
  expect(sums.map((e) => [e.decision, e.outcome])).toEqual([
    ['allow', 'ok'],
    ['rate_limited', 'denied'],
  ]);

  expect(by('tools/call', 'crash')[0]).toMatchObject({ serverSlug: 'crashy', decision: 'allow', outcome: 'upstream_error' });

  // The usage queue carries the twin of each audit event (same id).
  const ids = new Set(events.map((e) => e.id));
  let twins = 0;
  const deadline = Date.now() + 5000;
  while (twins < ids.size && Date.now() < deadline) {
    twins = (await queuedEvents<UsageEvent>(stack, QueueName.Usage)).filter((e) => ids.has(e.id)).length;
    if (twins < ids.size) await sleep(50);
  }
  expect(twins).toBe(ids.size);
});

it('audits calls over legacy SSE too', async () => {
  const client = await connect(`${stack.gatewayUrl}/sse/${o.org.slug}`, o.key, { transport: 'sse' });
  const marker = `legacy-${randomBytes(4).toString('hex')}`;
  try {
    expect(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: marker } }))).toContain(marker);
  } finally {
    await client.close();
  }
  const events = await auditEvents(stack, o.org.id, (ev) => ev.some((e) => JSON.stringify(e.arguments ?? '').includes(marker)));
  const e = events.find((x) => JSON.stringify(x.arguments ?? '').includes(marker));
  expect(e).toMatchObject({ method: 'tools/call', target: 'echo', decision: 'allow', outcome: 'ok' });
  expect(e!.bytesOut).toBeGreaterThan(0);
});

it('records an agent-cancelled call as cancelled, not as an error of the upstream', async () => {
  const client = await connect(`${stack.gatewayUrl}/mcp/${o.org.slug}`, o.key);
  const sessionId = (client.transport as unknown as { sessionId: string }).sessionId;
  const calls = upstream.stats.callIds.length;
  const cancelled = upstream.stats.cancelled.length;
  try {
    const controller = new AbortController();
    const pending = client.callTool({ name: 'fixture__slow', arguments: { ms: 20_000 } }, undefined, { signal: controller.signal });
    await waitFor(() => upstream.stats.callIds.length > calls, 5000);
    controller.abort();
    await pending.catch(() => undefined);
    await waitFor(() => upstream.stats.cancelled.length > cancelled, 3000);
  } finally {
    await client.close();
  }
  const events = await auditEvents(stack, o.org.id, (ev) => ev.some((e) => e.sessionId === sessionId && e.target === 'slow'));
  expect(events.find((e) => e.sessionId === sessionId && e.target === 'slow')).toMatchObject({ decision: 'allow', outcome: 'cancelled' });
});
