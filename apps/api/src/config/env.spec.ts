import { loadEnv } from './env';

const base = { JWT_SECRET: 'x'.repeat(32), TOOLGATE_SECRET_KEY: `${'0'.repeat(63)}1` };

describe('STDIO_ALLOWED_COMMANDS', () => {
  it('defaults to the usual MCP launchers', () => {
    expect(loadEnv(base).STDIO_ALLOWED_COMMANDS).toEqual(['npx', 'uvx', 'node', 'python3', 'deno']);
  });

  it('reads a comma-separated list, trimming spaces and dropping repeats', () => {
    expect(loadEnv({ ...base, STDIO_ALLOWED_COMMANDS: ' node , /opt/mcp/run,node,' }).STDIO_ALLOWED_COMMANDS).toEqual([
      'node',
      '/opt/mcp/run',
    ]);
  });

  it('allows nothing when set empty (not the defaults)', () => {
    expect(loadEnv({ ...base, STDIO_ALLOWED_COMMANDS: '' }).STDIO_ALLOWED_COMMANDS).toEqual([]);
  });

  it('refuses to start with an entry that is neither a program name nor a plain absolute path', () => {
    expect(() => loadEnv({ ...base, STDIO_ALLOWED_COMMANDS: 'node,bin/sh' })).toThrow(/STDIO_ALLOWED_COMMANDS: "bin\/sh" must be/);
    expect(() => loadEnv({ ...base, STDIO_ALLOWED_COMMANDS: '/opt/../bin/sh' })).toThrow(/not a plain absolute path/);
  });
});
