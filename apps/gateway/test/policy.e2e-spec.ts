/**
 * Policy as an agent meets it, set up through the REST API and enforced by the gateway:
 * filtered catalogues, deny rules (with the rule named in the error and the audit event),
 * parameter constraints that reference key metadata, rate limits (JSON-RPC -32004 on HTTP 200 +
 * Retry-After), key revocation and role changes taking effect within a second, and redaction of
 * injected secrets and role patterns in what comes back.
 */
import { randomBytes } from 'node:crypto';
import {
  LoggingMessageNotificationSchema,
  McpError,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import {
  auditEvents,
  createKey,
  createOrg,
  everythingServer,
  GW_STDIO_SERVER,
  openSession,
  parseSse,
  post,
  sleep,
  textOf,
} from './fixtures/gw-helpers';
import { waitFor } from './fixtures/stdio-helpers';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(30_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

const mcpUrl = (slug: string) => `${stack.gatewayUrl}/mcp/${slug}`;

/** The McpError a call rejects with (fails the test if it resolves). */
async function rpcError(p: Promise<unknown>): Promise<McpError> {
  const e = await p.then(
    (r) => {
      throw new Error(`expected an error, got ${JSON.stringify(r).slice(0, 300)}`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(McpError);
  return e as McpError;
}

describe('authorization', () => {
  const rules = {
    tools: [
      { effect: 'allow', match: '*' },
      { effect: 'deny', match: 'everything__get-env' },
      { effect: 'deny', match: 'everything__trigger-*' },
    ],
    prompts: [
      { effect: 'allow', match: 'everything__*' },
      { effect: 'deny', match: 'everything__resource-prompt' },
    ],
    resources: [{ effect: 'allow', uri: 'demo://resource/dynamic/*' }],
  };

  it('lists only what the role allows: deny beats allow, a deny glob hides every match', async () => {
    const o = await createOrg(stack, { rules, roleName: 'listing' });
    const client = await connect(mcpUrl(o.org.slug), o.key);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain('everything__echo');
      expect(tools).not.toContain('everything__get-env');
      expect(tools.filter((t) => t.startsWith('everything__trigger-'))).toEqual([]);

      const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
      expect(prompts).toContain('everything__simple-prompt');
      expect(prompts).not.toContain('everything__resource-prompt');

      // Only dynamic resources are allowed; the static documents are not listed.
      const resources = (await client.listResources()).resources.map((r) => r.uri);
      expect(resources.every((u) => u.startsWith('tg://everything/demo://resource/dynamic/'))).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('refuses a denied call with JSON-RPC -32003 naming the rule, and audits it as a deny', async () => {
    const o = await createOrg(stack, { rules, roleName: 'denier' });
    const client = await connect(mcpUrl(o.org.slug), o.key);
    try {
      const env = await rpcError(client.callTool({ name: 'everything__get-env', arguments: {} }));
      expect(env.code).toBe(-32003);
      expect(env.data).toMatchObject({ rule: 'role:denier/tools[1]' });

      const trigger = await rpcError(
        client.callTool({ name: 'everything__trigger-long-running-operation', arguments: { duration: 1, steps: 1 } }),
      );
      expect(trigger.data).toMatchObject({ rule: 'role:denier/tools[2]' });

      const prompt = await rpcError(client.getPrompt({ name: 'everything__resource-prompt', arguments: {} }));
      expect(prompt.code).toBe(-32003);
      expect(prompt.data).toMatchObject({ rule: 'role:denier/prompts[1]' });

      // A resource outside the allowed URIs: default deny (no rule named).
      const doc = await rpcError(client.readResource({ uri: 'tg://everything/demo://resource/static/document/architecture.md' }));
      expect(doc.code).toBe(-32003);

      // The allowed neighbour still works.
      expect(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: 'ok' } }))).toContain('ok');
    } finally {
      await client.close();
    }
    const events = await auditEvents(stack, o.org.id, (ev) => ev.some((e) => e.target === 'get-env'));
    const denied = events.find((e) => e.target === 'get-env');
    expect(denied).toMatchObject({
      method: 'tools/call',
      serverSlug: 'everything',
      decision: 'deny',
      outcome: 'denied',
      rule: 'role:denier/tools[1]',
      keyId: o.keyId,
    });
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: the policy's own metadata-reference syntax.
  it('enforces a parameter constraint that references key metadata (${key.metadata.customer_id})', async () => {
    const o = await createOrg(stack, {
      roleName: 'scoped',
      rules: {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a metadata reference resolved by the gateway, per key.
        tools: [{ effect: 'allow', match: 'everything__echo', constraints: { message: { equals: '${key.metadata.customer_id}' } } }],
      },
      metadata: { customer_id: 'cust-42' },
    });
    // A second key with the same role but another customer.
    const other = await createKey(o, [o.roleId], { customer_id: 'cust-7' });
    const mine = await connect(mcpUrl(o.org.slug), o.key);
    const theirs = await connect(mcpUrl(o.org.slug), other.key);
    try {
      expect(textOf(await mine.callTool({ name: 'everything__echo', arguments: { message: 'cust-42' } }))).toContain('cust-42');
      const refused = await rpcError(mine.callTool({ name: 'everything__echo', arguments: { message: 'cust-7' } }));
      expect(refused.code).toBe(-32003);
      expect(refused.data).toMatchObject({ rule: 'role:scoped/tools[0]' });
      expect(refused.message).toContain('message');

      // The same rule, another key: its own metadata decides.
      expect(textOf(await theirs.callTool({ name: 'everything__echo', arguments: { message: 'cust-7' } }))).toContain('cust-7');
      expect((await rpcError(theirs.callTool({ name: 'everything__echo', arguments: { message: 'cust-42' } }))).code).toBe(-32003);
      // A missing argument does not slip past the constraint.
      expect((await rpcError(mine.callTool({ name: 'everything__echo', arguments: {} }))).code).toBe(-32003);
    } finally {
      await Promise.all([mine.close(), theirs.close()]);
    }
  });
});

describe('rate limits', () => {
  const rules = {
    tools: [{ effect: 'allow', match: '*' }],
    rateLimits: [{ scope: 'key', perMinute: 6, burst: 2 }],
  };

  it('refuses the 3rd quick call with -32004 on HTTP 200, with Retry-After (raw HTTP)', async () => {
    const o = await createOrg(stack, { rules, roleName: 'limited' });
    const url = mcpUrl(o.org.slug);
    const session = await openSession(url, o.key);
    const call = (i: number) =>
      post(
        url,
        { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: `n${i}` } } },
        { key: o.key, session },
      );
    const first = await call(1);
    const second = await call(2);
    const third = await call(3);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(first.json.result).toBeDefined();
    expect(second.json.result).toBeDefined();

    // 200, not 429: clients turn a non-2xx answer into a transport error and lose the code.
    expect(third.status).toBe(200);
    const retryAfter = Number(third.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(third.json).toMatchObject({ jsonrpc: '2.0', id: 3, error: { code: -32004, data: { retryAfterSeconds: retryAfter } } });

    // Listing is not a tool call: it is not limited.
    expect((await post(url, { jsonrpc: '2.0', id: 4, method: 'tools/list' }, { key: o.key, session })).status).toBe(200);

    const events = await auditEvents(stack, o.org.id, (ev) => ev.some((e) => e.decision === 'rate_limited'));
    expect(events.find((e) => e.decision === 'rate_limited')).toMatchObject({ method: 'tools/call', target: 'echo', outcome: 'denied' });
  });

  it('an SDK client gets a prompt McpError -32004 (not a hang, not a transport error) on the 3rd quick call', async () => {
    const o = await createOrg(stack, { rules, roleName: 'limited' });
    const client = await connect(mcpUrl(o.org.slug), o.key);
    try {
      await client.callTool({ name: 'everything__echo', arguments: { message: 'a' } });
      await client.callTool({ name: 'everything__echo', arguments: { message: 'b' } });
      const started = Date.now();
      const err = await rpcError(client.callTool({ name: 'everything__echo', arguments: { message: 'c' } }));
      expect(Date.now() - started).toBeLessThan(2000);
      expect(err.code).toBe(-32004);
      expect((err.data as { retryAfterSeconds?: number }).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    } finally {
      await client.close();
    }
  });
});

describe('changes through the API reach the gateway within a second', () => {
  it('a revoked key gets 401 within 1 s of the DELETE returning', async () => {
    const o = await createOrg(stack);
    const url = mcpUrl(o.org.slug);
    const session = await openSession(url, o.key);
    const list = () => post(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { key: o.key, session });
    expect((await list()).status).toBe(200);

    await o.api.call('DELETE', `/v1/orgs/${o.org.slug}/keys/${o.keyId}`);
    const revokedAt = Date.now();
    let res = await list();
    while (res.status !== 401 && Date.now() - revokedAt < 1000) {
      await sleep(20);
      res = await list();
    }
    const elapsed = Date.now() - revokedAt;
    expect(res.status).toBe(401);
    expect(elapsed).toBeLessThan(1000);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    // A new session cannot be opened with it either.
    await expect(openSession(url, o.key)).rejects.toThrow(/401/);
  });

  it('a role change changes tools/list for a connected session (no reconnect) and says so (list_changed)', async () => {
    const o = await createOrg(stack, { roleName: 'changing' });
    const client = await connect(mcpUrl(o.org.slug), o.key);
    let listChanged = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      listChanged++;
    });
    try {
      const names = async () => (await client.listTools()).tools.map((t) => t.name);
      expect(await names()).toContain('everything__echo');
      await waitForStreams(1);
      // server-everything announces its conditional tools once at start; count from here.
      await sleep(200);
      listChanged = 0;

      await o.api.call('PUT', `/v1/orgs/${o.org.slug}/roles/${o.roleId}`, {
        name: 'changing',
        rules: {
          tools: [
            { effect: 'allow', match: '*' },
            { effect: 'deny', match: 'everything__echo' },
          ],
        },
      });
      const changedAt = Date.now();
      let current = await names();
      while (current.includes('everything__echo') && Date.now() - changedAt < 1000) {
        await sleep(20);
        current = await names();
      }
      expect(current).not.toContain('everything__echo');
      expect(current).toContain('everything__get-sum');
      expect(Date.now() - changedAt).toBeLessThan(1000);
      expect((await rpcError(client.callTool({ name: 'everything__echo', arguments: { message: 'x' } }))).code).toBe(-32003);
      // A client that caches its tool list learns of the change without polling.
      await waitFor(() => listChanged > 0, 1000);
    } finally {
      await client.close();
    }
  });
});

describe('redaction', () => {
  it('never returns an injected secret: get-env shows the redaction marker where the value is', async () => {
    const secret = `sk-live-${randomBytes(12).toString('hex')}`;
    const o = await createOrg(stack, {
      secrets: { API_TOKEN: secret },
      servers: [everythingServer('everything', { env: { API_TOKEN: { secret: 'API_TOKEN' }, PLAIN_SETTING: { value: 'visible-value' } } })],
    });
    const client = await connect(mcpUrl(o.org.slug), o.key);
    try {
      const result = await client.callTool({ name: 'everything__get-env', arguments: {} });
      const whole = JSON.stringify(result);
      expect(whole).not.toContain(secret);
      // get-env prints the child's environment as JSON: the injected variable is there, its value masked.
      const env = JSON.parse(textOf(result)) as Record<string, string>;
      expect(env.API_TOKEN).toBe('[REDACTED:secret]');
      expect(env.PLAIN_SETTING).toBe('visible-value');

      // An upstream that echoes the secret back (in any field) is masked too.
      const echoed = await client.callTool({ name: 'everything__echo', arguments: { message: `token=${secret};` } });
      expect(JSON.stringify(echoed)).not.toContain(secret);
      expect(textOf(echoed)).toContain('token=[REDACTED:secret];');
    } finally {
      await client.close();
    }
  });

  it('redacts the secret in everything else the upstream says: call logs, progress messages, later logs', async () => {
    const secret = `sk-live-${randomBytes(12).toString('hex')}`;
    const o = await createOrg(stack, {
      secrets: { API_TOKEN: secret },
      servers: [
        {
          slug: 'leaky',
          name: 'Leaky',
          transport: 'stdio',
          command: process.execPath,
          args: [GW_STDIO_SERVER],
          env: { API_TOKEN: { secret: 'API_TOKEN' } },
        },
      ],
    });
    const url = mcpUrl(o.org.slug);
    // A second session of the org, listening on its GET stream for what comes outside any call.
    const listener = await connect(url, o.key);
    const later: unknown[] = [];
    listener.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      later.push(n.params);
    });
    try {
      await waitForStreams(1);
      const session = await openSession(url, o.key);
      const res = await post(
        url,
        { jsonrpc: '2.0', id: 'leak', method: 'tools/call', params: { name: 'leaky__leak', arguments: {}, _meta: { progressToken: 'p' } } },
        { key: o.key, session },
      );
      expect(res.text).not.toContain(secret);
      const during = parseSse(res.text) as Array<{ method?: string; params?: Record<string, unknown> }>;
      expect(during.find((m) => m.method === 'notifications/message')?.params).toMatchObject({ data: 'using token [REDACTED:secret]' });
      expect(during.find((m) => m.method === 'notifications/progress')?.params).toMatchObject({
        message: 'authenticated with [REDACTED:secret]',
      });

      await waitFor(() => later.length > 0, 2000);
      expect(JSON.stringify(later)).not.toContain(secret);
      expect(later[0]).toMatchObject({ level: 'warning', data: 'later: still using [REDACTED:secret]' });
    } finally {
      await listener.close();
    }
  });

  it('applies the role’s redaction patterns to results (e.g. e-mail addresses)', async () => {
    const o = await createOrg(stack, {
      roleName: 'pii',
      rules: {
        tools: [{ effect: 'allow', match: '*' }],
        redact: [{ name: 'email', pattern: '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}' }],
      },
    });
    const client = await connect(mcpUrl(o.org.slug), o.key);
    try {
      const result = await client.callTool({
        name: 'everything__echo',
        arguments: { message: 'write to ada@example.com or bob.smith+x@mail.example.org today' },
      });
      const text = textOf(result);
      expect(text).toContain('write to [REDACTED:email] or [REDACTED:email] today');
      expect(text).not.toMatch(/@example\.com|@mail\.example\.org/);
    } finally {
      await client.close();
    }
  });
});

describe('upstream notifications', () => {
  it('relays resources/updated only to sessions that subscribed — never to other sessions, keys or roles', async () => {
    const o = await createOrg(stack, { roleName: 'full' });
    const toolsOnly = await o.api.call('POST', `/v1/orgs/${o.org.slug}/roles`, {
      name: 'tools-only',
      rules: { tools: [{ effect: 'allow', match: 'everything__echo' }] },
    });
    const other = await createKey(o, [toolsOnly.id]);
    const url = mcpUrl(o.org.slug);
    const subscriber = await connect(url, o.key);
    const bystander = await connect(url, o.key); // same key, never subscribed
    const outsider = await connect(url, other.key); // a role that may not see any resource
    const seen = new Map<string, string[]>();
    for (const [name, c] of [
      ['subscriber', subscriber],
      ['bystander', bystander],
      ['outsider', outsider],
    ] as const) {
      seen.set(name, []);
      c.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
        seen.get(name)!.push(n.params.uri);
      });
    }
    const uri = 'tg://everything/demo://resource/dynamic/text/5';
    try {
      // Every client has its GET stream open (the gateway counts them) before anything is sent.
      await waitForStreams(3);
      await subscriber.subscribeResource({ uri });
      await subscriber.callTool({ name: 'everything__toggle-subscriber-updates', arguments: {} });
      await waitFor(() => seen.get('subscriber')!.includes(uri), 5000);
      await sleep(300);
      expect(seen.get('bystander')).toEqual([]);
      expect(seen.get('outsider')).toEqual([]);
    } finally {
      await subscriber.callTool({ name: 'everything__toggle-subscriber-updates', arguments: {} });
      await subscriber.unsubscribeResource({ uri });
      await Promise.all([subscriber.close(), bystander.close(), outsider.close()]);
    }
  });
});

describe('upstream log messages outside any call', () => {
  it('respect each session’s logging/setLevel', async () => {
    const o = await createOrg(stack, {
      servers: [{ slug: 'leaky', name: 'Leaky', transport: 'stdio', command: process.execPath, args: [GW_STDIO_SERVER] }],
    });
    const url = mcpUrl(o.org.slug);
    const quiet = await connect(url, o.key);
    const loud = await connect(url, o.key);
    const got = { quiet: [] as string[], loud: [] as string[] };
    quiet.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      got.quiet.push(String(n.params.data));
    });
    loud.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      got.loud.push(String(n.params.data));
    });
    try {
      await quiet.setLoggingLevel('error');
      await waitForStreams(2);
      // A third session makes the call; 50 ms after answering, the upstream logs a "warning".
      const session = await openSession(url, o.key);
      await post(
        url,
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'leaky__leak', arguments: {} } },
        { key: o.key, session },
      );
      await waitFor(() => got.loud.some((d) => d.startsWith('later:')), 2000);
      await sleep(200);
      expect(got.quiet).toEqual([]);
    } finally {
      await Promise.all([quiet.close(), loud.close()]);
    }
  });
});

/** Wait until the gateway reports at least `n` open agent streams. */
async function waitForStreams(n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const text = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
    const m = /^toolgate_gateway_open_streams (\d+)/m.exec(text);
    if (m && Number(m[1]) >= n) return;
    if (Date.now() > deadline) throw new Error(`fewer than ${n} open streams: ${m?.[1]}`);
    await sleep(20);
  }
}
