import { execFileSync } from 'node:child_process';
import { type ClientConfig, clientConfigs, KEY_PLACEHOLDER, shellQuote } from './client-configs';

const endpoint = 'https://gw.example.test/mcp/acme';
const key = 'tg_abcDEF0123456789abcDEF0123456789abcDEF01';
const byId = (configs: ClientConfig[], id: ClientConfig['id']) => configs.find((c) => c.id === id)!.text;

/** The argv a POSIX shell makes of `command` (its first word swapped for printf). */
function argv(command: string): string[] {
  const [, ...rest] = command.split(' ');
  const out = execFileSync('sh', ['-c', `printf '%s\\0' ${rest.join(' ')}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('clientConfigs', () => {
  const configs = clientConfigs({ endpoint, name: 'toolgate-acme', key });

  it('offers the six clients', () => {
    expect(configs.map((c) => c.id)).toEqual(['claude-desktop', 'cursor', 'vscode', 'claude-code', 'sdk', 'curl']);
  });

  it('Claude Desktop: mcp-remote with the key in env and no space inside args', () => {
    const s = JSON.parse(byId(configs, 'claude-desktop')).mcpServers['toolgate-acme'];
    expect(s.command).toBe('npx');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal mcp-remote expands from env.
    expect(s.args).toEqual(['-y', 'mcp-remote', endpoint, '--header', 'Authorization:${TOOLGATE_KEY}']);
    for (const a of s.args) expect(a).not.toContain(' ');
    expect(s.env).toEqual({ TOOLGATE_KEY: `Bearer ${key}` });
  });

  it('Cursor and VS Code: url and Authorization header', () => {
    expect(JSON.parse(byId(configs, 'cursor'))).toEqual({
      mcpServers: { 'toolgate-acme': { url: endpoint, headers: { Authorization: `Bearer ${key}` } } },
    });
    expect(JSON.parse(byId(configs, 'vscode'))).toEqual({
      servers: { 'toolgate-acme': { type: 'http', url: endpoint, headers: { Authorization: `Bearer ${key}` } } },
    });
  });

  it('Claude Code and curl: the shell sees exactly the intended arguments', () => {
    expect(argv(byId(configs, 'claude-code'))).toEqual([
      'mcp',
      'add',
      '--transport',
      'http',
      'toolgate-acme',
      endpoint,
      '--header',
      `Authorization: Bearer ${key}`,
    ]);
    const curl = argv(byId(configs, 'curl').replace(/ \\\n\s*/g, ' '));
    expect(curl.slice(0, 2)).toEqual(['-sS', endpoint]);
    expect(curl).toContain('Accept: application/json, text/event-stream');
    expect(curl).toContain(`Authorization: Bearer ${key}`);
    expect(JSON.parse(curl[curl.indexOf('-d') + 1]!)).toMatchObject({ method: 'initialize', jsonrpc: '2.0' });
  });

  it('never lets a hostile key or name out of its quotes', () => {
    const evil = `x'; touch /tmp/pwned; echo '$(id)\`id\``;
    const hostile = clientConfigs({ endpoint: `https://gw.example.test/mcp/a'b`, name: `toolgate-$(id)`, key: evil });
    const args = argv(byId(hostile, 'claude-code'));
    expect(args[4]).toBe('toolgate-$(id)');
    expect(args[5]).toBe(`https://gw.example.test/mcp/a'b`);
    expect(args[7]).toBe(`Authorization: Bearer ${evil}`);
    expect(argv(byId(hostile, 'curl').replace(/ \\\n\s*/g, ' '))).toContain(`Authorization: Bearer ${evil}`);
    // JSON and the SDK's string literals escape what they hold.
    expect(JSON.parse(byId(hostile, 'cursor')).mcpServers['toolgate-$(id)'].headers.Authorization).toBe(`Bearer ${evil}`);
    expect(byId(hostile, 'sdk')).toContain(JSON.stringify(`Bearer ${evil}`));
  });

  it('shellQuote leaves plain words bare and quotes the rest', () => {
    expect(shellQuote('toolgate-acme')).toBe('toolgate-acme');
    expect(shellQuote('a b')).toBe(`'a b'`);
    expect(shellQuote(`it's`)).toBe(`'it'\\''s'`);
  });

  it('uses a placeholder when no key is given', () => {
    expect(byId(clientConfigs({ endpoint, name: 'n' }), 'cursor')).toContain(KEY_PLACEHOLDER);
  });
});
