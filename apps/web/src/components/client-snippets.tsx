'use client';

import { useState } from 'react';
import { CopyButton } from './client-ui';

/** Ready-to-paste client configuration for an MCP endpoint (the key stays a placeholder). */
export function ClientSnippets({ endpoint, name }: { endpoint: string; name: string }) {
  const key = 'tg_YOUR_AGENT_KEY';
  const snippets: { id: string; label: string; code: string }[] = [
    {
      id: 'claude',
      label: 'Claude Desktop',
      code: JSON.stringify(
        { mcpServers: { [name]: { command: 'npx', args: ['-y', 'mcp-remote', endpoint, '--header', `Authorization: Bearer ${key}`] } } },
        null,
        2,
      ),
    },
    {
      id: 'cursor',
      label: 'Cursor',
      code: JSON.stringify({ mcpServers: { [name]: { url: endpoint, headers: { Authorization: `Bearer ${key}` } } } }, null, 2),
    },
    {
      id: 'vscode',
      label: 'VS Code',
      code: JSON.stringify({ servers: { [name]: { type: 'http', url: endpoint, headers: { Authorization: `Bearer ${key}` } } } }, null, 2),
    },
    {
      id: 'sdk',
      label: 'TypeScript SDK',
      code: `import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const transport = new StreamableHTTPClientTransport(new URL('${endpoint}'), {
  requestInit: { headers: { Authorization: 'Bearer ' + process.env.TOOLGATE_KEY } },
});
const client = new Client({ name: 'my-agent', version: '1.0.0' });
await client.connect(transport);
console.log(await client.listTools());`,
    },
  ];
  const [tab, setTab] = useState(snippets[0]!.id);
  const current = snippets.find((s) => s.id === tab) ?? snippets[0]!;
  return (
    <div>
      <div className="tabs" role="tablist" aria-label="Client configuration">
        {snippets.map((s) => (
          <button
            key={s.id}
            type="button"
            role="tab"
            aria-selected={s.id === tab}
            aria-controls={`snippet-${s.id}`}
            onClick={() => setTab(s.id)}
          >
            {s.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`snippet-${current.id}`} className="stack" style={{ gap: 8 }}>
        <div className="row">
          <span className="muted small">Replace {key} with a key from Agent keys.</span>
          <span className="spacer" />
          <CopyButton value={current.code} label={`Copy ${current.label} config`} />
        </div>
        <pre>{current.code}</pre>
      </div>
    </div>
  );
}

export function EndpointLine({ label, url }: { label: string; url: string }) {
  return (
    <div className="row" style={{ flexWrap: 'nowrap' }}>
      <span className="muted" style={{ minWidth: 110 }}>
        {label}
      </span>
      <code data-testid="endpoint-url" style={{ overflowWrap: 'anywhere' }}>
        {url}
      </code>
      <CopyButton value={url} label="Copy URL" />
    </div>
  );
}
