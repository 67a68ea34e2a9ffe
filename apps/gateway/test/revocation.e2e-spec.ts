/**
 * A key that loses its standing (revoked, expired, given other roles) loses its open streams
 * within a second: Streamable HTTP GET streams and legacy SSE streams end, so nothing more is
 * pushed to an agent the org has cut off. Other keys' streams stay open.
 */
import { createKey, createOrg, type Org, openSession, post, sleep } from './fixtures/gw-helpers';
import { type Stack, startStack } from './harness';

jest.setTimeout(30_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

const mcpUrl = (slug: string) => `${stack.gatewayUrl}/mcp/${slug}`;

/** An open stream: `ended` resolves with the time its body ended (the body is drained meanwhile). */
interface OpenStream {
  ended: Promise<number>;
  close(): void;
}

async function openStream(url: string, key: string, session?: string): Promise<OpenStream> {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: {
      Accept: 'text/event-stream',
      Authorization: `Bearer ${key}`,
      ...(session ? { 'Mcp-Session-Id': session, 'MCP-Protocol-Version': '2025-11-25' } : {}),
    },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const ended = (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // aborted by close()
    }
    return Date.now();
  })();
  return { ended, close: () => abort.abort() };
}

/** Resolves with the end time, or null if the stream is still open after `ms`. */
const endedWithin = (s: OpenStream, ms: number) => Promise.race([s.ended, sleep(ms).then(() => null)]);

async function getStream(o: Org, key = o.key): Promise<{ stream: OpenStream; session: string }> {
  const session = await openSession(mcpUrl(o.org.slug), key);
  return { stream: await openStream(mcpUrl(o.org.slug), key, session), session };
}

const list = (o: Org, session: string, key = o.key) =>
  post(mcpUrl(o.org.slug), { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { key, session });

describe('open streams of a key that loses its standing', () => {
  it('a revoked key’s GET stream ends within 1 s; its next request gets 401; another key’s stream stays', async () => {
    const o = await createOrg(stack);
    const other = await createKey(o, [o.roleId]);
    const mine = await getStream(o);
    const theirs = await getStream(o, other.key);
    try {
      await o.api.call('DELETE', `/v1/orgs/${o.org.slug}/keys/${o.keyId}`);
      const revokedAt = Date.now();
      const endedAt = await endedWithin(mine.stream, 1000);
      expect(endedAt).not.toBeNull();
      expect(endedAt! - revokedAt).toBeLessThan(1000);
      expect((await list(o, mine.session)).status).toBe(401);

      expect(await endedWithin(theirs.stream, 300)).toBeNull();
      expect((await list(o, theirs.session, other.key)).status).toBe(200);
    } finally {
      mine.stream.close();
      theirs.stream.close();
    }
  });

  it('a revoked key’s legacy SSE stream ends within 1 s', async () => {
    const o = await createOrg(stack);
    const stream = await openStream(`${stack.gatewayUrl}/sse/${o.org.slug}`, o.key);
    try {
      await o.api.call('DELETE', `/v1/orgs/${o.org.slug}/keys/${o.keyId}`);
      const revokedAt = Date.now();
      const endedAt = await endedWithin(stream, 1000);
      expect(endedAt).not.toBeNull();
      expect(endedAt! - revokedAt).toBeLessThan(1000);
    } finally {
      stream.close();
    }
  });

  it('a key given other roles loses its GET stream (the session stays and reopens one)', async () => {
    const o = await createOrg(stack);
    const role = await o.api.call('POST', `/v1/orgs/${o.org.slug}/roles`, {
      name: 'narrow',
      rules: { tools: [{ effect: 'allow', match: 'everything__echo' }] },
    });
    const { stream, session } = await getStream(o);
    try {
      await o.api.call('PATCH', `/v1/orgs/${o.org.slug}/keys/${o.keyId}`, { roleIds: [role.id] });
      const changedAt = Date.now();
      const endedAt = await endedWithin(stream, 1000);
      expect(endedAt).not.toBeNull();
      expect(endedAt! - changedAt).toBeLessThan(1000);
      const again = await openStream(mcpUrl(o.org.slug), o.key, session);
      expect(await endedWithin(again, 300)).toBeNull();
      again.close();
    } finally {
      stream.close();
    }
  });

  it('a key’s GET stream ends within 1 s of the key expiring, with no snapshot change', async () => {
    const o = await createOrg(stack);
    const expiresAt = Date.now() + 2000;
    const k = await o.api.call('POST', `/v1/orgs/${o.org.slug}/keys`, {
      name: 'short-lived',
      roleIds: [o.roleId],
      expiresAt: new Date(expiresAt).toISOString(),
    });
    const { stream, session } = await getStream(o, k.key);
    try {
      expect(await endedWithin(stream, expiresAt - Date.now() - 200)).toBeNull();
      const endedAt = await endedWithin(stream, expiresAt - Date.now() + 1000);
      expect(endedAt).not.toBeNull();
      expect(endedAt!).toBeGreaterThanOrEqual(expiresAt);
      expect((await list(o, session, k.key)).status).toBe(401);
    } finally {
      stream.close();
    }
  });
});
