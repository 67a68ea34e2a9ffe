import { commandAllowed, DEFAULT_STDIO_COMMANDS, launcherEntryProblem } from './stdio-commands';

describe('commandAllowed', () => {
  const allowed = ['node', 'npx', '/opt/tools/mcp-run'];

  it('allows an entry by name', () => {
    expect(commandAllowed('node', allowed)).toBe(true);
    expect(commandAllowed('npx', allowed)).toBe(true);
  });

  it('allows a bare entry by its absolute path in /usr/bin, /usr/local/bin and /bin', () => {
    for (const path of ['/usr/bin/node', '/usr/local/bin/node', '/bin/node']) expect(commandAllowed(path, allowed)).toBe(true);
  });

  it('refuses the same name anywhere else', () => {
    for (const path of ['/home/x/node', '/tmp/node', '/usr/sbin/node', '/usr/bin/../../tmp/node', 'usr/bin/node', './node']) {
      expect(commandAllowed(path, allowed)).toBe(false);
    }
  });

  it('refuses commands that only contain, prefix or differ in case from an entry', () => {
    for (const command of ['nodejs', 'node ', ' node', 'Node', 'node -e 1', 'sh', 'bash', '/usr/bin/nodejs', '/usr/bin/node/x']) {
      expect(commandAllowed(command, allowed)).toBe(false);
    }
  });

  it('allows an absolute-path entry exactly, and nowhere else', () => {
    expect(commandAllowed('/opt/tools/mcp-run', allowed)).toBe(true);
    expect(commandAllowed('mcp-run', allowed)).toBe(false);
    expect(commandAllowed('/usr/bin/mcp-run', allowed)).toBe(false);
  });

  it('allows nothing with an empty list', () => {
    expect(commandAllowed('node', [])).toBe(false);
  });

  it('defaults to the usual MCP launchers', () => {
    expect([...DEFAULT_STDIO_COMMANDS]).toEqual(['npx', 'uvx', 'node', 'python3', 'deno']);
    expect(commandAllowed('/usr/bin/python3', DEFAULT_STDIO_COMMANDS)).toBe(true);
    expect(commandAllowed('python', DEFAULT_STDIO_COMMANDS)).toBe(false);
  });
});

describe('launcherEntryProblem', () => {
  it('accepts program names and plain absolute paths', () => {
    for (const entry of ['node', 'python3', 'uvx', 'g++', 'my_tool-1.2', '/opt/tools/mcp-run', '/usr/bin/node']) {
      expect(launcherEntryProblem(entry)).toBeNull();
    }
  });

  it('refuses relative paths, traversal, empty segments, spaces and empty entries', () => {
    for (const entry of ['', 'bin/node', './node', '-rf', '/', '/opt//x', '/opt/../bin/sh', '/opt/./x', 'no de', '/opt/my tool']) {
      expect(launcherEntryProblem(entry)).toEqual(expect.any(String));
    }
  });
});
