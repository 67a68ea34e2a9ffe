import type { Caller } from './core/caller';
import { logRequest } from './http/calls';
import { createLogger } from './log';

const caller = {
  snapshot: { orgSlug: 'acme', orgId: 'org-1' },
  key: { id: 'key-1', hash: 'f'.repeat(64), prefix: 'tg_abc' },
  ip: '10.0.0.1',
  scope: 'github',
} as unknown as Caller;

describe('the request log line', () => {
  it('at info: one JSON line of ids, outcome, code and latency, never the key hash or prefix', () => {
    const lines: string[] = [];
    logRequest(
      createLogger('request', 'info', (l) => lines.push(l)),
      caller,
      's-1',
      'tools/call',
      'denied',
      -32004,
      0.0123456,
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({
      level: 'info',
      component: 'request',
      msg: 'request',
      org: 'acme',
      orgId: 'org-1',
      keyId: 'key-1',
      sessionId: 's-1',
      server: 'github',
      method: 'tools/call',
      outcome: 'denied',
      code: -32004,
      latencyMs: 12.346,
    });
    expect(line.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines[0]).not.toContain('tg_abc');
    expect(lines[0]).not.toContain('f'.repeat(64));
  });

  it('at warn or error: nothing', () => {
    for (const level of ['warn', 'error'] as const) {
      const lines: string[] = [];
      logRequest(
        createLogger('request', level, (l) => lines.push(l)),
        caller,
        's-1',
        'ping',
        'ok',
        undefined,
        0.001,
      );
      expect(lines).toEqual([]);
    }
  });
});
