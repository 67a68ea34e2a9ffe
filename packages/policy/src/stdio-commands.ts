/**
 * Which launchers tenants may start as stdio servers. The operator lists them (API env
 * STDIO_ALLOWED_COMMANDS); everything else is refused before it is stored, so a stranger cannot
 * register `bash -c …` or a binary dropped on the host. Pure string rules: no PATH lookup, no
 * file system, so the control plane and the gateway decide the same way.
 */

/** What operators get unless they say otherwise: the usual MCP server launchers. */
export const DEFAULT_STDIO_COMMANDS: readonly string[] = ['npx', 'uvx', 'node', 'python3', 'deno'];

/** System bin directories in which a listed launcher may also be named by absolute path. */
export const LAUNCHER_DIRS: readonly string[] = ['/usr/bin', '/usr/local/bin', '/bin'];

const BARE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const PATH_SEGMENT = /^[A-Za-z0-9._+-]+$/;

/** Why `entry` cannot be an allow-list entry, or null: a bare program name or a plain absolute path. */
export function launcherEntryProblem(entry: string): string | null {
  if (BARE_NAME.test(entry)) return null;
  if (entry.startsWith('/')) {
    const segments = entry.slice(1).split('/');
    // `.` and `..` would let one entry stand for a file outside the directory it names.
    if (segments.every((s) => PATH_SEGMENT.test(s) && s !== '.' && s !== '..')) return null;
    return `"${entry}" is not a plain absolute path (no empty, . or .. segments, no spaces)`;
  }
  return `"${entry}" must be a program name (letters, digits, . _ + -) or an absolute path`;
}

/**
 * A command is allowed when it is one of the entries, or a bare entry named by its absolute path
 * in a system bin directory (`node` also allows `/usr/bin/node`, not `/home/x/node`).
 */
export function commandAllowed(command: string, allowed: readonly string[]): boolean {
  return allowed.some(
    (entry) => command === entry || (BARE_NAME.test(entry) && LAUNCHER_DIRS.some((dir) => command === `${dir}/${entry}`)),
  );
}
