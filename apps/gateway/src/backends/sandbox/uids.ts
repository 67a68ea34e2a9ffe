import { readFileSync } from 'node:fs';

/**
 * Host uids for sandboxes. Each running server gets a uid of its own when the gateway runs as
 * root: the kernel counts RLIMIT_NPROC per uid, so a fork bomb exhausts only its own budget, and
 * no two tenants' processes share an owner. A gateway that is not root (or whose user namespace
 * does not map the range) runs every sandbox as itself; the namespaces still separate them.
 */
export class SandboxUids {
  private readonly inUse = new Set<number>();
  private next = 0;
  readonly perServer: boolean;

  constructor(private readonly range: { first: number; count: number }) {
    this.perServer = process.getuid?.() === 0 && rangeMapped(range);
  }

  /** A free uid (the gateway's own when uids are not per server). */
  acquire(): number {
    if (!this.perServer) return process.getuid?.() ?? 0;
    for (let i = 0; i < this.range.count; i++) {
      const uid = this.range.first + ((this.next + i) % this.range.count);
      if (!this.inUse.has(uid)) {
        this.inUse.add(uid);
        this.next = (this.next + i + 1) % this.range.count;
        return uid;
      }
    }
    throw new Error(`all ${this.range.count} sandbox uids are in use`);
  }

  release(uid: number): void {
    this.inUse.delete(uid);
  }
}

/** Does this process's user namespace map the whole range (so setuid into it works)? */
function rangeMapped(range: { first: number; count: number }): boolean {
  let map: string;
  try {
    map = readFileSync('/proc/self/uid_map', 'utf8');
  } catch {
    return false;
  }
  return map
    .trim()
    .split('\n')
    .some((line) => {
      const [inside, , count] = line.trim().split(/\s+/).map(Number);
      return inside! <= range.first && range.first + range.count <= inside! + count!;
    });
}
