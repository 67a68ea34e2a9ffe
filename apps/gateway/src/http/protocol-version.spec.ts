import type { JsonRpcMessage } from '../core/jsonrpc';
import { MCP_PROTOCOL_VERSIONS } from '@toolgate/contracts';
import { versionRefusal } from './protocol-version';

const call = (meta?: Record<string, unknown>): JsonRpcMessage => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/list',
  params: meta ? { _meta: meta } : {},
});
const V = 'io.modelcontextprotocol/protocolVersion';

describe('versionRefusal', () => {
  it('refuses a header naming a revision the gateway does not speak, with or without a session', () => {
    for (const sessionless of [call(), null]) {
      expect(versionRefusal('2026-07-28', sessionless)).toEqual({
        code: -32600,
        message: 'Unsupported MCP-Protocol-Version: 2026-07-28',
        data: { supported: [...MCP_PROTOCOL_VERSIONS], requested: '2026-07-28' },
      });
    }
    expect(versionRefusal(['1999-01-01', '2025-11-25'], null)?.data).toMatchObject({ requested: '1999-01-01' });
  });

  it('refuses a sessionless message that names its version in _meta, whatever the version', () => {
    expect(versionRefusal(undefined, call({ [V]: '2026-07-28' }))).toMatchObject({
      code: -32600,
      data: { supported: [...MCP_PROTOCOL_VERSIONS], requested: '2026-07-28' },
    });
    expect(versionRefusal('2025-11-25', call({ [V]: '2025-11-25' }))?.code).toBe(-32600);
    expect(versionRefusal(undefined, call({ [V]: 42 }))?.data).toMatchObject({ requested: null });
    const notification: JsonRpcMessage = { jsonrpc: '2.0', method: 'notifications/initialized', params: { _meta: { [V]: '2026-07-28' } } };
    expect(versionRefusal(undefined, notification)?.code).toBe(-32600);
  });

  it('lets through supported headers, in-session _meta, other _meta keys and plain messages', () => {
    for (const v of MCP_PROTOCOL_VERSIONS) expect(versionRefusal(v, call())).toBeNull();
    expect(versionRefusal(undefined, null)).toBeNull();
    expect(versionRefusal(undefined, call())).toBeNull();
    expect(versionRefusal(undefined, call({ progressToken: 1 }))).toBeNull();
    expect(versionRefusal(undefined, { jsonrpc: '2.0', id: 1, result: {} })).toBeNull();
    const odd = { jsonrpc: '2.0', id: 1, method: 'ping', params: { _meta: 'x' } } as JsonRpcMessage;
    expect(versionRefusal(undefined, odd)).toBeNull();
  });
});
