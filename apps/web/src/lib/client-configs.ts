/** Ready-to-paste MCP client configurations for one gateway endpoint and one agent key. */

export interface ClientConfig {
  id: 'claude-desktop' | 'cursor' | 'vscode' | 'claude-code' | 'sdk' | 'curl';
  label: string;
  /** Where the text goes (a file, or a terminal). */
  where: string;
  text: string;
}

/** What the snippets show when no real key is at hand (overview and server pages). */
export const KEY_PLACEHOLDER = 'tg_YOUR_AGENT_KEY';

/**
 * One shell word: left bare when it holds only characters no POSIX shell treats specially,
 * else single-quoted (a quote inside becomes '\''), so a key or slug can never run as code.
 */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

const json = (v: unknown) => JSON.stringify(v, null, 2);

/**
 * `name` is the server's name in the client's config (e.g. `toolgate-<org>`); `endpoint` is the
 * gateway's public URL for it (`${PUBLIC_GATEWAY_URL}/mcp/<org>`, as the API reports it).
 */
export function clientConfigs({ endpoint, name, key = KEY_PLACEHOLDER }: { endpoint: string; name: string; key?: string }): ClientConfig[] {
  const bearer = `Bearer ${key}`;
  const initialize = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
  });
  return [
    {
      id: 'claude-desktop',
      label: 'Claude Desktop',
      where: 'claude_desktop_config.json',
      // mcp-remote's README: some clients do not escape spaces inside `args`, so the header value
      // (which has one) travels in an env var and the arg itself has no space around the ':'.
      text: json({
        mcpServers: {
          [name]: {
            command: 'npx',
            // biome-ignore lint/suspicious/noTemplateCurlyInString: mcp-remote expands ${TOOLGATE_KEY} from env itself.
            args: ['-y', 'mcp-remote', endpoint, '--header', 'Authorization:${TOOLGATE_KEY}'],
            env: { TOOLGATE_KEY: bearer },
          },
        },
      }),
    },
    {
      id: 'cursor',
      label: 'Cursor',
      where: '.cursor/mcp.json',
      text: json({ mcpServers: { [name]: { url: endpoint, headers: { Authorization: bearer } } } }),
    },
    {
      id: 'vscode',
      label: 'VS Code',
      where: '.vscode/mcp.json',
      text: json({ servers: { [name]: { type: 'http', url: endpoint, headers: { Authorization: bearer } } } }),
    },
    {
      id: 'claude-code',
      label: 'Claude Code',
      where: 'terminal',
      text: ['claude', 'mcp', 'add', '--transport', 'http', name, endpoint, '--header', `Authorization: ${bearer}`]
        .map(shellQuote)
        .join(' '),
    },
    {
      id: 'sdk',
      label: 'TypeScript SDK',
      where: 'agent.ts',
      // JSON.stringify makes each value a valid JS string literal, whatever it contains.
      text: `import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const transport = new StreamableHTTPClientTransport(new URL(${JSON.stringify(endpoint)}), {
  requestInit: { headers: { Authorization: ${JSON.stringify(bearer)} } },
});
const client = new Client({ name: 'my-agent', version: '1.0.0' });
await client.connect(transport);
console.log(await client.listTools());`,
    },
    {
      id: 'curl',
      label: 'curl',
      where: 'terminal',
      text: [
        ['curl', '-sS', endpoint],
        ['-H', 'Content-Type: application/json'],
        // Streamable HTTP requires both: the gateway may answer with JSON or an SSE stream.
        ['-H', 'Accept: application/json, text/event-stream'],
        ['-H', `Authorization: ${bearer}`],
        ['-d', initialize],
      ]
        .map((line) => line.map(shellQuote).join(' '))
        .join(' \\\n  '),
    },
  ];
}
