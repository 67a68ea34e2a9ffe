import { existsSync, lstatSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';

/**
 * The read-only part of the host a server sees. Merged-/usr systems keep /bin, /lib… as
 * symlinks into /usr: they are recreated as symlinks, not bound, so the sandbox sees the same
 * layout. /etc is not bound whole (it holds the host's users, secrets and service configs):
 * only what TLS, dynamic linking, time zones and Debian's alternatives need.
 */
const TOP_LEVEL = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
const ETC_ENTRIES = [
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/pki',
  '/etc/alternatives',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/mime.types',
];

export interface HostLayout {
  /** [target, path] pairs for `--symlink`. */
  symlinks: Array<[string, string]>;
  /** Paths bound read-only at the same place. */
  binds: string[];
}

export function hostLayout(extraPaths: readonly string[]): HostLayout {
  const symlinks: Array<[string, string]> = [];
  const binds = ['/usr'];
  for (const p of TOP_LEVEL) {
    const stat = lstatOrNull(p);
    if (!stat) continue;
    if (stat.isSymbolicLink()) symlinks.push([readlinkSync(p), p]);
    else binds.push(p);
  }
  for (const p of ETC_ENTRIES) if (existsSync(p)) binds.push(p);
  // A Node toolchain installed outside /usr (nvm, /opt/node) is part of what servers need.
  const nodePrefix = path.dirname(path.dirname(realpathSync(process.execPath)));
  if (!isUnder(nodePrefix, binds)) binds.push(nodePrefix);
  for (const p of extraPaths) if (!isUnder(p, binds)) binds.push(p);
  return { symlinks, binds };
}

function lstatOrNull(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

function isUnder(p: string, roots: readonly string[]): boolean {
  return roots.some((r) => p === r || p.startsWith(`${r}/`));
}
