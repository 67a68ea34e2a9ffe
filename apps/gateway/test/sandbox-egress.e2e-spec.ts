import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * The egress policy, tested entirely inside network namespaces this test makes itself
 * (`unshare -rn`): test/fixtures/egress-lab/lab.ts builds a host and an "outside world" of
 * listeners on documentation and private addresses, then connects from real sandboxes. No
 * packet reaches a real network, not even a refused one.
 */
const LAB = path.join(__dirname, 'fixtures/egress-lab/lab.ts');
const SWC = require.resolve('@swc-node/register');

type LabResult = { status: { ok: string; egress: string }; egress: Record<string, string>; none: Record<string, string> };

async function runLab(allow: string[] = []): Promise<LabResult> {
  const { stdout } = await promisify(execFile)('unshare', ['-rn', process.execPath, '-r', SWC, LAB], {
    env: { PATH: process.env.PATH, LAB_EGRESS_ALLOW: allow.join(',') },
    timeout: 150_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as LabResult;
}

const BLOCKED = ['private-10', 'private-172', 'private-192', 'metadata', 'cgnat', 'host-address'];

describe('egress sandboxes', () => {
  let lab: LabResult;
  beforeAll(async () => {
    lab = await runLab();
  }, 160_000);

  it('reach a public address', () => {
    expect(lab.status.ok).toBe('true');
    expect(lab.egress.public).toBe('connected: hello from 203.0.113.10');
  });

  it.each(BLOCKED)('never reach %s (prohibit route: EACCES)', (target) => {
    expect(lab.egress[target]).toBe('EACCES');
  });

  it("never reach the host's loopback services, through slirp or their own loopback", () => {
    expect(lab.egress['host-loopback-via-slirp']).toBe('ENETUNREACH');
    expect(lab.egress['sandbox-own-loopback']).toBe('ECONNREFUSED');
  });

  it('with network none reach nothing at all', () => {
    for (const [target, outcome] of Object.entries(lab.none)) {
      expect([target, outcome]).toEqual([target, target === 'sandbox-own-loopback' ? 'ECONNREFUSED' : 'ENETUNREACH']);
    }
  });
});

describe('an operator-allowed range', () => {
  it('opens that range only, and never the host’s own addresses inside it', async () => {
    const lab = await runLab(['10.1.0.0/16', '198.51.100.0/24']);
    expect(lab.egress['private-10']).toBe('connected: hello from 10.1.2.3');
    expect(lab.egress['private-192']).toBe('EACCES');
    expect(lab.egress.metadata).toBe('EACCES');
    expect(lab.egress['host-address']).toBe('EACCES');
  }, 160_000);
});
