/**
 * A command line as people paste it (`npx -y @modelcontextprotocol/server-everything`), split
 * into words the way a POSIX shell would for plain words and quotes (no expansion). Launchers
 * are bare names or absolute paths without spaces, so a Command field holding spaces is always
 * a whole command line.
 */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i]!;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i]!;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** Package-name conventions of MCP servers: `server-x`, `mcp-server-x`, `x-mcp-server`, `x-mcp`. */
const SERVER_NAME = [/^(?:mcp-)?server-([a-z0-9][a-z0-9-]*)$/, /^([a-z0-9][a-z0-9-]*?)-mcp(?:-server)?$/];

/**
 * A name for a stdio server from its command line, for when none was typed: the first word (or
 * path segment) named like an MCP server package, `server-everything` → `everything`. Null when
 * nothing looks like one; then a name must be typed.
 */
export function nameFromCommandLine(words: readonly string[]): string | null {
  for (const word of words) {
    const unversioned = word.replace(/(?<=.)@[^/@]*$/, '');
    for (const segment of unversioned.toLowerCase().split('/').reverse()) {
      for (const re of SERVER_NAME) {
        const m = re.exec(segment);
        if (m?.[1]) return m[1];
      }
    }
  }
  return null;
}
