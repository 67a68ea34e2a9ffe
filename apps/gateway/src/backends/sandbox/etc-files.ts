import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Inside the sandbox the server runs as this user, with this home. */
export const SANDBOX_USER = { uid: 1000, gid: 1000, name: 'mcp', home: '/home/mcp' } as const;
/** slirp4netns's built-in DNS forwarder. */
export const SLIRP_DNS = '10.0.2.3';

const FILES: Record<string, string> = {
  passwd: `root:x:0:0:root:/root:/usr/sbin/nologin\n${SANDBOX_USER.name}:x:${SANDBOX_USER.uid}:${SANDBOX_USER.gid}:MCP server:${SANDBOX_USER.home}:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
  group: `root:x:0:\n${SANDBOX_USER.name}:x:${SANDBOX_USER.gid}:\nnogroup:x:65534:\n`,
  hosts: '127.0.0.1 localhost mcp\n::1 localhost\n',
  'resolv.conf': `nameserver ${SLIRP_DNS}\n`,
  'nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files dns\n',
  hostname: 'mcp\n',
};

/**
 * A sandbox's own /etc/passwd, hosts, resolv.conf…: the host's would tell a tenant who else lives
 * on the machine. Written once per gateway into a fresh directory that the unprivileged sandbox
 * users can read (bwrap binds them as those users).
 */
export function writeEtcFiles(): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-sandbox-etc-'));
  chmodSync(dir, 0o755);
  const out: Record<string, string> = {};
  for (const [name, content] of Object.entries(FILES)) {
    const file = path.join(dir, name);
    writeFileSync(file, content, { mode: 0o644 });
    out[`/etc/${name}`] = file;
  }
  return out;
}
