import { sealSecret } from './crypto';
import { PROBE_SCHEMA_VERSION, ProbeReply, ProbeRequest, ServerCatalog } from './probe';

const ID = '6f1c2d9e-0a4b-4c3d-8e2f-1a2b3c4d5e6f';

/** A catalogue as the API stored them before probes moved to the gateway (MCP SDK shapes). */
const STORED = {
  protocolVersion: '2025-06-18',
  serverInfo: { name: 'example-servers/everything', title: 'Everything', version: '2.0.0' },
  capabilities: { tools: { listChanged: true }, prompts: {}, resources: { subscribe: true } },
  instructions: null,
  tools: [
    {
      name: 'echo',
      description: 'Echoes back the input',
      inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
      annotations: { readOnlyHint: true },
    },
  ],
  prompts: [{ name: 'simple-prompt', arguments: [{ name: 'style', required: false }] }],
  resources: [{ uri: 'test://static/resource/1', name: 'Resource 1', mimeType: 'text/plain' }],
  resourceTemplates: [{ uriTemplate: 'test://static/resource/{id}', name: 'Static Resource' }],
};

describe('probe wire formats', () => {
  const server = {
    id: 's1',
    slug: 'everything',
    name: 'Everything',
    transport: 'stdio',
    command: 'node',
    args: ['index.js'],
    url: null,
    headers: {},
    env: { TOKEN: { secret: 'TOKEN' } },
    timeoutMs: 30_000,
    tags: [],
  };
  const request = {
    schemaVersion: PROBE_SCHEMA_VERSION,
    id: ID,
    orgId: 'org-1',
    server,
    secrets: { TOKEN: sealSecret(Buffer.alloc(32, 1), 'org-1', 'v') },
    deadline: Date.now() + 20_000,
  };

  it('parses a request, the server with the snapshot defaults (network none)', () => {
    expect(ProbeRequest.parse(request).server.network).toBe('none');
    expect(ProbeRequest.parse({ ...request, server: { ...server, network: 'egress' } }).server.network).toBe('egress');
  });

  it('refuses malformed requests', () => {
    for (const bad of [
      { ...request, schemaVersion: 2 },
      { ...request, id: 'not-a-uuid' },
      { ...request, secrets: { TOKEN: 'plain text' } },
      { ...request, deadline: 'soon' },
      { ...request, server: { ...server, transport: 'websocket' } },
      { ...request, server: undefined },
    ]) {
      expect(ProbeRequest.safeParse(bad).success).toBe(false);
    }
  });

  it('keeps catalogues the API stored before, field for field', () => {
    expect(ServerCatalog.parse(STORED)).toEqual(STORED);
  });

  it('refuses catalogue items without what identifies them', () => {
    for (const bad of [
      { ...STORED, tools: [{ description: 'no name' }] },
      { ...STORED, resources: [{ name: 'no uri' }] },
      { ...STORED, resourceTemplates: [{ uri: 'x', name: 'a template needs uriTemplate' }] },
      { ...STORED, serverInfo: { name: 'no version' } },
      { ...STORED, tools: undefined },
    ]) {
      expect(ServerCatalog.safeParse(bad).success).toBe(false);
    }
  });

  it('parses each kind of reply and refuses unknown kinds', () => {
    expect(ProbeReply.parse({ kind: 'accepted', id: ID, workerId: 'w1' })).toEqual({ kind: 'accepted', id: ID, workerId: 'w1' });
    expect(ProbeReply.parse({ kind: 'result', id: ID, catalog: STORED }).kind).toBe('result');
    expect(ProbeReply.parse({ kind: 'error', id: ID, message: 'boom' })).toEqual({ kind: 'error', id: ID, message: 'boom' });
    expect(ProbeReply.safeParse({ kind: 'done', id: ID }).success).toBe(false);
    expect(ProbeReply.safeParse({ kind: 'error', id: ID }).success).toBe(false);
  });
});
