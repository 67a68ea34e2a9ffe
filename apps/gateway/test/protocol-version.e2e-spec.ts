/**
 * Requests in the stateless 2026-07-28 style (no session, no initialize, the revision in the
 * `MCP-Protocol-Version` header or in `params._meta`) get HTTP 400 with -32600 naming the revisions
 * the gateway speaks, so a client that tries the newest revision first falls back to initialize.
 * Never a 2026-07-28 error code (-32020/-32021/-32022): that would mark the gateway as a modern
 * server, and dual-era clients (@ai-sdk/mcp 2.x) then refuse to fall back. A plain request
 * without a session and without any version hint is told "Mcp-Session-Id header is required".
 */
import { MCP_PROTOCOL_VERSIONS } from '@toolgate/contracts';
import { stackWithOrg, MCP_HEADERS, type Org, post } from './fixtures/gw-helpers';
import { connect, type Stack } from './harness';

jest.setTimeout(60_000);

const NEXT = '2026-07-28';
const META = {
  'io.modelcontextprotocol/protocolVersion': NEXT,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'stateless-client', version: '2.0.0' },
};
const statelessList = (id: number | string) => ({ jsonrpc: '2.0', id, method: 'tools/list', params: { _meta: META } });
const refusal = (requested: string | null) => ({
  code: -32600,
  data: { supported: [...MCP_PROTOCOL_VERSIONS], requested },
});

let stack: Stack;
let o: Org;
let url: string;
beforeAll(async () => {
  ({ stack, o, url } = await stackWithOrg());
});
afterAll(() => stack.close());

describe('stateless (2026-07-28) requests', () => {
  it('a request with the 2026-07-28 header and _meta → 400 -32600 (not a modern error code) listing the supported revisions', async () => {
    const res = await post(url, statelessList('s1'), { key: o.key, headers: { 'MCP-Protocol-Version': NEXT, 'Mcp-Method': 'tools/list' } });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ jsonrpc: '2.0', id: 's1', error: refusal(NEXT) });
  });

  it('either sign alone is enough: _meta without the header, the header without _meta', async () => {
    const metaOnly = await post(url, statelessList(2), { key: o.key });
    expect(metaOnly.status).toBe(400);
    expect(metaOnly.json).toMatchObject({ id: 2, error: refusal(NEXT) });

    const headerOnly = await post(
      url,
      { jsonrpc: '2.0', id: 3, method: 'ping' },
      { key: o.key, headers: { 'MCP-Protocol-Version': NEXT } },
    );
    expect(headerOnly.status).toBe(400);
    expect(headerOnly.json).toMatchObject({ id: 3, error: refusal(NEXT) });

    const notification = await post(
      url,
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: META } },
      { key: o.key },
    );
    expect(notification.status).toBe(400);
    expect(notification.json).toMatchObject({ id: null, error: refusal(NEXT) });
  });

  it('GET and DELETE with an unsupported header → 400 -32600', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(url, {
        method,
        headers: { Accept: 'text/event-stream', Authorization: `Bearer ${o.key}`, 'MCP-Protocol-Version': NEXT },
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: refusal(NEXT) });
    }
  });

  it('an unsupported header wins over a session id, known or not', async () => {
    const res = await post(
      url,
      { jsonrpc: '2.0', id: 4, method: 'ping' },
      { key: o.key, headers: { 'Mcp-Session-Id': 'nope', 'MCP-Protocol-Version': NEXT } },
    );
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ id: 4, error: refusal(NEXT) });
  });

  it('without any version hint, a missing session id is still 400 -32600', async () => {
    const res = await post(url, { jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: { progressToken: 1 } } }, { key: o.key });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      id: null,
      error: { code: -32600, message: expect.stringMatching(/Mcp-Session-Id header is required/) },
    });
  });

  it('authentication comes first: a stateless request without a key is a 401', async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'MCP-Protocol-Version': NEXT },
      body: JSON.stringify(statelessList(6)),
    });
    expect(res.status).toBe(401);
  });

  it('after the refusal the client falls back to initialize, and _meta inside a session is harmless', async () => {
    const refused = await post(url, statelessList(7), { key: o.key, headers: { 'MCP-Protocol-Version': NEXT } });
    const supported: string[] = refused.json.error.data.supported;
    const init = await post(
      url,
      {
        jsonrpc: '2.0',
        id: 8,
        method: 'initialize',
        params: { protocolVersion: supported[0], capabilities: {}, clientInfo: { name: 'c', version: '1' } },
      },
      { key: o.key },
    );
    expect(init.status).toBe(200);
    expect(init.json.result.protocolVersion).toBe(supported[0]);
    const session = init.headers.get('mcp-session-id') ?? '';
    const listed = await post(url, statelessList(9), { key: o.key, session });
    expect(listed.status).toBe(200);
    expect(listed.json.result.tools.length).toBeGreaterThan(0);

    // The SDK's 1.x client (2025 era) is unaffected.
    const client = await connect(url, o.key);
    try {
      expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });
});
