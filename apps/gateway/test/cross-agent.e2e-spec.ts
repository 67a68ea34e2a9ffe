/**
 * Agents are strangers, even inside one org: whatever a server says to or asks of one agent must
 * reach no other. The matrix: every isolation mode × upstream kind (stdio, Streamable HTTP) ×
 * every kind of server-to-client traffic (test/fixtures/traffic-kinds.ts), triggered by key A
 * over Streamable HTTP (and over legacy SSE for two rows). The triggering agent must receive
 * exactly its own traffic; every other recorder (a second session of A's key, key B of the same
 * org with a narrower role, key C of another org with the same servers, key D of a role that
 * sees none of them, and their SSE twins) receives exactly what the mode lets it hear: nothing,
 * except out-of-call notifications of a backend its key shares (per-key: same key; shared: any
 * key whose role sees the server).
 */
import { type Agent, MODES, QUIET_MS, slugOf, UPSTREAMS, type World, startWorld, callText } from './fixtures/cross-agent';
import { sleep } from './fixtures/gw-helpers';
import { waitFor } from './fixtures/stdio-helpers';
import { type Kind, KINDS, outcomeCount, type Row } from './fixtures/traffic-kinds';
import { uniq } from './harness';

jest.setTimeout(30_000);

let w: World;
beforeAll(async () => {
  w = await startWorld({ sse: true });
}, 90_000);
afterAll(() => w?.close());

interface MatrixRow extends Row {
  /** The agent that triggers. */
  via: 'A' | 'A-sse';
}

const ROWS: MatrixRow[] = [
  ...UPSTREAMS.flatMap((upstream) => MODES.map((mode): MatrixRow => ({ upstream, mode, server: slugOf(upstream, mode), via: 'A' }))),
  { upstream: 'stdio', mode: 'per-key', server: slugOf('stdio', 'per-key'), via: 'A-sse' },
  { upstream: 'http', mode: 'per-session', server: slugOf('http', 'per-session'), via: 'A-sse' },
];

/**
 * Does `other` rightly hear what `t` triggered too? Only an out-of-call notification (not a
 * request, not a subscription-bound update) of a backend other's key shares: per-key, a session
 * of the same key; shared, a session of the org whose role sees the server (A's and B's keys).
 */
function hearsToo(row: Row, kind: Kind, t: Agent, other: Agent): boolean {
  if (kind.heardBy === 'caller') return false;
  if (row.mode === 'per-key') return other.keyId === t.keyId;
  if (row.mode === 'shared') return other.keyId === w.keys.A.id || other.keyId === w.keys.B.id;
  return false;
}

const byAgent = <T>(f: (a: Agent) => T): Record<string, T> => Object.fromEntries(Object.values(w.agents).map((a) => [a.name, f(a)]));

describe.each(ROWS)('$upstream × $mode, triggered by $via', (row) => {
  if (row.via === 'A') {
    it('state: only the agents the mode groups share a backend', async () => {
      const [a, a2, b, c] = await Promise.all(['A', 'A2', 'B', 'C'].map((n) => callText(w.agents[n]!, row.server, 'whoami')));
      expect({ sameKey: a2 === a, otherKey: b === a, otherOrg: c === a }).toEqual({
        sameKey: row.mode !== 'per-session',
        otherKey: row.mode === 'shared',
        otherOrg: false,
      });
    });
  }

  it.each(KINDS.map((k) => [k.name, k] as const))('%s reaches its own agent and no stranger', async (_name, kind) => {
    const t = w.agents[row.via]!;
    await kind.before?.(t, row);
    const outcomesBefore = kind.settled ? await outcomeCount(t, row) : 0;
    const marks = byAgent((a) => a.mark());
    const tag = uniq(`${row.server}:${kind.name}`);

    expect(await kind.trigger(t, row, tag)).toBe(kind.result(t, row));

    // Positive control first (the agent's own traffic, or the server's outcome), then a quiet window.
    const expected = kind.expected(t, row, tag);
    await waitFor(() => t.since(marks[t.name]!).length >= expected.length, 15_000);
    await kind.settled?.(t, row, outcomesBefore);
    await sleep(QUIET_MS);

    const heard = byAgent((a) => a.since(marks[a.name]!));
    const allowed = byAgent((a) => (a === t || hearsToo(row, kind, t, a) ? expected : []));
    expect(heard).toEqual(allowed);
    await kind.after?.(t, row);
  });
});
