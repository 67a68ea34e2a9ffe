import { nameFromCommandLine, splitCommandLine } from './command-line';

describe('splitCommandLine', () => {
  it('splits on whitespace and keeps quoted words whole', () => {
    expect(splitCommandLine('npx -y  @modelcontextprotocol/server-everything')).toEqual([
      'npx',
      '-y',
      '@modelcontextprotocol/server-everything',
    ]);
    expect(splitCommandLine(`node "/opt/My Servers/index.js" --label 'a b' ""`)).toEqual([
      'node',
      '/opt/My Servers/index.js',
      '--label',
      'a b',
      '',
    ]);
    expect(splitCommandLine('a\\ b "say \\"hi\\""')).toEqual(['a b', 'say "hi"']);
    expect(splitCommandLine('  ')).toEqual([]);
  });
});

describe('nameFromCommandLine', () => {
  it('names a server after its package', () => {
    expect(nameFromCommandLine(['npx', '-y', '@modelcontextprotocol/server-everything'])).toBe('everything');
    expect(nameFromCommandLine(['node', '/x/node_modules/@modelcontextprotocol/server-everything/dist/index.js', 'stdio'])).toBe(
      'everything',
    );
    expect(nameFromCommandLine(['uvx', 'mcp-server-fetch'])).toBe('fetch');
    expect(nameFromCommandLine(['npx', 'github-mcp-server@1.2.3'])).toBe('github');
    expect(nameFromCommandLine(['npx', '@acme/weather-mcp'])).toBe('weather');
  });

  it('gives up rather than guessing', () => {
    expect(nameFromCommandLine(['docker', 'run', '-i', 'ghcr.io/acme/tool'])).toBeNull();
    expect(nameFromCommandLine([])).toBeNull();
  });
});
