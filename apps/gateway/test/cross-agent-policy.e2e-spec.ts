/**
 * Cross-agent isolation where it meets policy and concurrency, on the world of
 * test/fixtures/cross-agent.ts: a shared backend with calls of two agents in flight, the role
 * redaction of what sessions hear outside any call, answers to another session's server
 * request, and the surfaces key B's narrower role is denied.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import {
  type Agent,
  CARD,
  CARD_REDACTED,
  callText,
  connectAgent,
  ELSEWHERE,
  MODES,
  QUIET_MS,
  slugOf,
  startWorld,
  UPSTREAMS,
  type World,
} from './fixtures/cross-agent';
import { ALLOW_ALL, createOrg, openSession, parseSse, post, sleep, sseReader, workerUrl } from './fixtures/gw-helpers';
import { waitFor } from './fixtures/stdio-helpers';
import { connect, uniq } from './harness';

jest.setTimeout(30_000);

let w: World;
beforeAll(async () => {
  // A second worker: an answer POSTed there travels to the first over the relay.
  w = await startWorld({ gateways: 2 });
}, 90_000);
afterAll(() => w?.close());

const byAgent = <T>(f: (a: Agent) => T): Record<string, T> => Object.fromEntries(Object.values(w.agents).map((a) => [a.name, f(a)]));
const marks = () => byAgent((a) => a.mark());
const heardSince = (m: Record<string, number>) => byAgent((a) => a.since(m[a.name]!));

describe.each(UPSTREAMS)('shared %s backend, calls of A and B in flight at once', (upstream) => {
  const server = slugOf(upstream, 'shared');
  // Over stdio nothing says which call a request belongs to: refused. Over Streamable HTTP it
  // rides the POST stream of A's call: answered by A.
  const expectedText = (answer: string) => (upstream === 'stdio' ? expect.stringMatching(/^refused: .*cannot be attributed/) : answer);

  it.each([
    ['sample', 'sampling/createMessage', 'answer: from A'],
    ['elicit', 'elicitation/create', 'answer: accept A'],
    ['roots', 'roots/list', 'answer: file:///A'],
  ])('%s: refused or A’s own, never B’s', async (tool, method, answer) => {
    const m = marks();
    const [a, b] = await Promise.all([
      callText(w.agents.A!, server, tool, { tag: uniq('concurrent'), waitMs: 300 }),
      sleep(50).then(() => callText(w.agents.B!, server, 'slow', { ms: 800 })),
    ]);
    expect([a, b]).toEqual([expectedText(answer), 'done 800']);
    await sleep(QUIET_MS);
    const got = heardSince(m);
    expect(got).toEqual(byAgent((x) => (x.name === 'A' && upstream === 'http' ? [expect.objectContaining({ method })] : [])));
  });
});

describe.each(UPSTREAMS)('shared %s backend: requests of A and B under the same ids stay apart', (upstream) => {
  const server = slugOf(upstream, 'shared');
  const sessions: Record<'A' | 'B', string> = { A: '', B: '' };
  beforeAll(async () => {
    [sessions.A, sessions.B] = await Promise.all([
      openSession(w.endpoint(w.org1), w.keys.A.key),
      openSession(w.endpoint(w.org1), w.keys.B.key),
    ]);
  });
  /** A raw tools/call whose id and progress token are "same" for both agents. */
  const call = (who: 'A' | 'B', tool: string, args: Record<string, unknown>) =>
    post(
      w.endpoint(w.org1),
      {
        jsonrpc: '2.0',
        id: 'same',
        method: 'tools/call',
        params: { name: `${server}__${tool}`, arguments: args, _meta: { progressToken: 'same' } },
      },
      { key: w.keys[who].key, session: sessions[who] },
    );

  it('B cancelling its request leaves A’s running', async () => {
    const [a, b] = await Promise.all([
      call('A', 'slow', { ms: 600 }),
      call('B', 'slow', { ms: 600 }),
      sleep(150).then(() =>
        post(
          w.endpoint(w.org1),
          { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'same', reason: 'B changed its mind' } },
          { key: w.keys.B.key, session: sessions.B },
        ),
      ),
    ]);
    expect(a.json?.result?.content?.[0]?.text).toBe('done 600');
    // A cancelled request gets no response: B's stream ends empty.
    expect(b.json).toBeNull();
  });

  it('progress under the same token reaches each agent with its own', async () => {
    const [a, b] = await Promise.all([
      call('A', 'progress', { tag: 'for A', steps: 3 }),
      call('B', 'progress', { tag: 'for B', steps: 3 }),
    ]);
    const progress = (r: { text: string }) =>
      (parseSse(r.text) as Array<{ method?: string; params?: { progressToken: unknown; message: unknown } }>)
        .filter((m) => m.method === 'notifications/progress')
        .map((m) => [m.params?.progressToken, m.params?.message]);
    expect(progress(a)).toEqual(Array(3).fill(['same', 'for A']));
    expect(progress(b)).toEqual(Array(3).fill(['same', 'for B']));
  });
});

describe('what a session hears outside any call passes its own role’s redaction', () => {
  const servers = UPSTREAMS.flatMap((u) => MODES.map((m) => slugOf(u, m)));

  it.each(servers)('%s: B’s own backend speaks to B through B’s patterns', async (server) => {
    const tag = `${uniq('note')} ${CARD}`;
    const m = marks();
    expect(await callText(w.agents.B!, server, 'log-later', { tag })).toBe('later');
    const b = w.agents.B!;
    await waitFor(() => b.since(m.B!).length > 0, 5000);
    // A shared backend's log reaches A's sessions too: let it land before the next test's marks.
    await sleep(QUIET_MS);
    expect(b.since(m.B!)).toEqual([
      expect.objectContaining({
        method: 'notifications/message',
        params: expect.objectContaining({ data: tag.replace(CARD, CARD_REDACTED) }),
      }),
    ]);
  });

  it('a shared backend’s log reaches A’s sessions as is, B’s redacted, and neither D (no role sees it) nor C (other org)', async () => {
    const server = slugOf('stdio', 'shared');
    const tag = `${uniq('note')} ${CARD}`;
    const m = marks();
    expect(await callText(w.agents.A!, server, 'log-later', { tag })).toBe('later');
    await waitFor(() => w.agents.A!.since(m.A!).length > 0 && w.agents.B!.since(m.B!).length > 0, 5000);
    await sleep(QUIET_MS);
    const log = (data: string) => [expect.objectContaining({ method: 'notifications/message', params: expect.objectContaining({ data }) })];
    expect(heardSince(m)).toEqual({ A: log(tag), A2: log(tag), B: log(tag.replace(CARD, CARD_REDACTED)), C: [], D: [] });
  });

  it('a per-session backend’s sampling request outside any call reaches B through B’s patterns', async () => {
    const server = slugOf('http', 'per-session');
    const tag = `${uniq('prompt')} ${CARD}`;
    const b = w.agents.B!;
    const m = b.mark();
    expect(await callText(b, server, 'ask-later', { tag, kind: 'sample' })).toBe('later');
    await waitFor(() => b.since(m).length > 0, 5000);
    expect(b.since(m)).toEqual([
      {
        method: 'sampling/createMessage',
        params: expect.objectContaining({
          messages: [{ role: 'user', content: { type: 'text', text: tag.replace(CARD, CARD_REDACTED) } }],
        }),
      },
    ]);
  });

  it('the same holds in a call (the control: call-bound traffic was always redacted)', async () => {
    const tag = `${uniq('note')} ${CARD}`;
    const m = marks();
    expect(await callText(w.agents.B!, slugOf('stdio', 'per-key'), 'log', { tag })).toBe('logged');
    expect(w.agents.B!.since(m.B!)).toEqual([
      expect.objectContaining({ params: expect.objectContaining({ data: tag.replace(CARD, CARD_REDACTED) }) }),
    ]);
  });
});

describe.each([slugOf('stdio', 'per-key'), slugOf('stdio', 'shared'), slugOf('http', 'per-key'), slugOf('http', 'shared')])(
  '%s: sessions sharing a backend share its upstream subscription',
  (server) => {
    const uri = `tg://${server}/tr://doc/1`;
    const touch = () => callText(w.agents.A!, server, 'touch', { uri: 'tr://doc/1' });

    it('one session’s unsubscribe leaves the other’s subscription alive; the last one’s ends it upstream', async () => {
      const [a, a2] = [w.agents.A!, w.agents.A2!];
      await a.client.subscribeResource({ uri });
      await a2.client.subscribeResource({ uri });
      await a.client.unsubscribeResource({ uri });
      const m = marks();
      expect(await touch()).toBe('later');
      await waitFor(() => a2.since(m.A2!).length > 0, 5000);
      await sleep(QUIET_MS);
      const updated = [{ method: 'notifications/resources/updated', params: { uri } }];
      expect(heardSince(m)).toEqual({ A: [], A2: updated, B: [], C: [], D: [] });
      await a2.client.unsubscribeResource({ uri });
      expect(await touch()).toBe('not subscribed');
    });
  },
);

describe.each([slugOf('stdio', 'per-key'), slugOf('http', 'per-session')])(
  '%s: a key whose role stops seeing the server (same role ids, edited rules)',
  (server) => {
    it('hears and is asked nothing more by its own backend outside any call', async () => {
      // An org of its own: the role change re-lists every session of the org it happens in.
      const o = await createOrg(w.stack, { servers: w.servers.filter((s) => s.slug === server), rules: ALLOW_ALL });
      const e = await connectAgent(w.endpoint(o), o.key, o.keyId, 'E');
      try {
        await callText(e, server, 'log-later', { tag: 'ready' });
        await waitFor(() => e.got.some((m) => m.params?.data === 'ready'), 5000);
        // The backend speaks (and, if it may, asks) again once the role no longer names the server.
        expect(await callText(e, server, 'log-later', { tag: 'after the change', delayMs: 1500 })).toBe('later');
        if (server.startsWith('http')) expect(await callText(e, server, 'ask-later', { tag: 'x', delayMs: 1500 })).toBe('later');
        await o.api.call('PUT', `/v1/orgs/${o.org.slug}/roles/${o.roleId}`, {
          name: o.roleName,
          rules: { tools: [{ effect: 'allow', match: 'nowhere__*' }] },
        });
        // The new snapshot reached the worker: it re-lists the session's catalogue.
        await waitFor(() => e.got.some((m) => m.method === 'notifications/tools/list_changed'), 5000);
        await sleep(1500 + QUIET_MS);
        expect(e.got.filter((m) => !m.method.endsWith('/list_changed'))).toEqual([
          { method: 'notifications/message', params: expect.objectContaining({ data: 'ready' }) },
        ]);
      } finally {
        await e.client.close();
      }
    });
  },
);

describe('answers to server requests', () => {
  it.each([
    ['the same worker', 0],
    ['another worker', 1],
  ])('another session’s answer to A’s pending sampling request, on %s, is ignored; A’s own is used', async (_where, worker) => {
    const url = w.endpoint(w.org1);
    const bUrl = `${workerUrl(w.stack, worker)}/mcp/${w.org1.org.slug}`;
    const [sa, sb] = await Promise.all([
      openSession(url, w.keys.A.key, { sampling: {} }),
      openSession(url, w.keys.B.key, { sampling: {} }),
    ]);
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        Authorization: `Bearer ${w.keys.A.key}`,
        'Mcp-Session-Id': sa,
        'MCP-Protocol-Version': '2025-11-25',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: `${slugOf('stdio', 'per-key')}__sample`, arguments: { tag: 'for A' } },
      }),
    });
    const stream = sseReader(res);
    try {
      const request = (await stream.next()) as { id: string; method: string };
      expect(request.method).toBe('sampling/createMessage');
      const answer = (to: string, session: string, key: string, text: string) =>
        post(
          to,
          { jsonrpc: '2.0', id: request.id, result: { model: 'm', role: 'assistant', content: { type: 'text', text } } },
          { key, session },
        );
      // B learns the id's shape from requests of its own (ids are a worker prefix and a counter).
      expect((await answer(bUrl, sb, w.keys.B.key, 'forged by B')).status).toBe(202);
      await sleep(100);
      expect((await answer(url, sa, w.keys.A.key, 'from A')).status).toBe(202);
      const result = (await stream.next()) as { id: number; result: { content: Array<{ text: string }> } };
      expect(result.result.content[0]?.text).toBe('answer: from A');
    } finally {
      await stream.cancel();
    }
  });
});

describe('surfaces B’s role is denied (no resource rule)', () => {
  const server = slugOf('stdio', 'per-key');
  const template = (s: string) => `tg://${s}/tr://doc/{id}`;

  it('resources/templates/list hides every template from B and shows them to A', async () => {
    const listed = async (a: Agent) => (await a.client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate).sort();
    expect(await listed(w.agents.B!)).toEqual([]);
    expect(await listed(w.agents.A!)).toEqual(
      [ELSEWHERE, ...UPSTREAMS.flatMap((u) => MODES.map((m) => slugOf(u, m)))].map(template).sort(),
    );
  });

  it('completion/complete on a ref/resource is refused to B with the rule and reason, answered to A', async () => {
    const ref = { type: 'ref/resource' as const, uri: template(server) };
    const e = await w.agents.B!.client.complete({ ref, argument: { name: 'id', value: '1' } }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(McpError);
    expect((e as McpError).code).toBe(-32003);
    expect((e as McpError).data).toEqual({ rule: null, reason: expect.stringContaining('tr://doc/{id}') });
    const done = await w.agents.A!.client.complete({ ref, argument: { name: 'id', value: '1' } });
    expect(done.completion.values).toEqual(['1', '12']);
  });

  it('B cannot subscribe, so it never hears resources/updated', async () => {
    const e = await w.agents.B!.client.subscribeResource({ uri: `tg://${server}/tr://doc/1` }).then(
      () => null,
      (err: unknown) => err,
    );
    expect((e as McpError).code).toBe(-32003);
  });

  it('C’s key is unknown to org 1: it cannot even open a session there', async () => {
    await expect(connect(w.endpoint(w.org1), w.keys.C.key)).rejects.toThrow();
  });
});
