import { randomBytes } from 'node:crypto';
import { type PolicySnapshot, signAccessToken } from '@toolgate/contracts';
import type { CallRecord } from '../core/call-record';
import { AuthFailureLog, type AuthFailureReason } from './auth-failures';

const org = (orgId: string) => ({ orgId, servers: [{ slug: 'files', id: 'srv-1' }] }) as unknown as PolicySnapshot;
const KEY = `tg_AbCd1234${'z'.repeat(32)}`;

function setup(opts: { perMinute?: number; maxWindows?: number } = {}) {
  let now = 1_000_000;
  const counted: AuthFailureReason[] = [];
  const emitted: Array<{ orgId: string; rec: CallRecord; ip: string | null }> = [];
  const log = new AuthFailureLog({
    count: (r) => counted.push(r),
    emit: (orgId, rec, ip) => emitted.push({ orgId, rec, ip }),
    perMinute: opts.perMinute ?? 2,
    maxWindows: opts.maxWindows,
    now: () => now,
  });
  return { log, counted, emitted, advance: (ms: number) => (now += ms) };
}

describe('AuthFailureLog', () => {
  it('records a failed key as auth/failed, denied, with the visible prefix only and the server named', () => {
    const { log, emitted, counted } = setup();
    log.record(org('o1'), 'invalid', KEY, '198.51.100.1', 'files');
    expect(counted).toEqual(['invalid']);
    expect(emitted).toHaveLength(1);
    const { rec, ip, orgId } = emitted[0]!;
    expect({ orgId, ip }).toEqual({ orgId: 'o1', ip: '198.51.100.1' });
    expect(rec).toMatchObject({
      method: 'auth/failed',
      decision: 'unauthenticated',
      outcome: 'denied',
      target: 'tg_AbCd1234',
      error: 'The agent key is invalid or revoked',
      arguments: { reason: 'invalid', suppressedBefore: 0 },
    });
    expect(rec.server?.slug).toBe('files');
    expect(JSON.stringify(rec)).not.toContain(KEY);
  });

  it('never records a token that is not shaped like an agent key (it may be another secret)', () => {
    const { log, emitted } = setup();
    log.record(org('o1'), 'invalid', 'sk-live-0123456789abcdef', '198.51.100.1', null);
    log.record(org('o1'), 'invalid', 'tg_short', '198.51.100.1', null);
    expect(emitted.map((e) => e.rec.target)).toEqual([null, null]);
  });

  it('records an access token as oauth:<client> once it is known to be this org’s, else oauth; never the token', () => {
    const { log, emitted, counted } = setup({ perMinute: 10 });
    const claims = { iss: 'i', aud: 'a', sub: 's', client_id: 'c', org: 'o1', gid: 'g', scope: 'mcp', iat: 1, exp: 2, jti: 'j' };
    const token = signAccessToken(randomBytes(32), claims);
    log.record(org('o1'), 'audience', token, '198.51.100.1', null, 'https://client.example/meta.json');
    log.record(org('o1'), 'invalid', token, '198.51.100.1', null);
    expect(counted).toEqual(['audience', 'invalid']);
    expect(emitted.map((e) => [e.rec.target, e.rec.error])).toEqual([
      ['oauth:https://client.example/meta.json', 'The access token is for another resource'],
      ['oauth', 'The access token is invalid'],
    ]);
    expect(JSON.stringify(emitted)).not.toContain(token.split('.')[2]);
  });

  it('counts a request without a key but does not audit it (clients discover the authorization server that way)', () => {
    const { log, emitted, counted } = setup();
    log.record(org('o1'), 'missing', null, '198.51.100.1', null);
    log.record(null, 'missing', null, '198.51.100.1', null);
    expect(counted).toEqual(['missing', 'missing']);
    expect(emitted).toHaveLength(0);
  });

  it('records N a minute per org and address and counts the rest into the next record', () => {
    const { log, emitted, counted, advance } = setup({ perMinute: 2 });
    for (let i = 0; i < 5; i++) log.record(org('o1'), 'expired', KEY, '198.51.100.1', null);
    log.record(org('o1'), 'invalid', KEY, '198.51.100.2', null); // another address
    log.record(org('o2'), 'invalid', KEY, '198.51.100.1', null); // another org
    expect(counted).toHaveLength(7);
    expect(emitted.map((e) => [e.orgId, e.ip])).toEqual([
      ['o1', '198.51.100.1'],
      ['o1', '198.51.100.1'],
      ['o1', '198.51.100.2'],
      ['o2', '198.51.100.1'],
    ]);
    advance(30_000);
    log.record(org('o1'), 'expired', KEY, '198.51.100.1', null);
    expect(emitted).toHaveLength(4);
    advance(30_000);
    log.record(org('o1'), 'expired', KEY, '198.51.100.1', null);
    // The sweep ran first (a minute since the last): the ended window's 4 left-out failures get their own record.
    const tail = emitted.slice(4);
    expect(tail.map((e) => e.rec.arguments)).toEqual([
      { reason: 'summary', suppressedBefore: 4 },
      { reason: 'expired', suppressedBefore: 0 },
    ]);
    expect(tail[0]!.rec.error).toContain('4 more failed authentications');
  });

  it('carries left-out failures into the next record when the window rolls over before a sweep is due', () => {
    const { log, emitted, advance } = setup({ perMinute: 1 });
    advance(30_000);
    for (let i = 0; i < 3; i++) log.record(org('o1'), 'invalid', KEY, '198.51.100.1', null);
    advance(30_000);
    log.record(org('o2'), 'invalid', KEY, '198.51.100.9', null); // a sweep runs; o1's window has not ended
    advance(30_000);
    log.record(org('o1'), 'invalid', KEY, '198.51.100.1', null); // o1's window ended; the next sweep is not due
    const o1 = emitted.filter((e) => e.orgId === 'o1').map((e) => e.rec.arguments);
    expect(o1).toEqual([
      { reason: 'invalid', suppressedBefore: 0 },
      { reason: 'invalid', suppressedBefore: 2 },
    ]);
  });

  it('keeps memory bounded: past maxWindows, new addresses share one window per org (address not recorded)', () => {
    const { log, emitted, counted } = setup({ perMinute: 1, maxWindows: 2 });
    log.record(org('o1'), 'invalid', KEY, '198.51.100.1', null);
    log.record(org('o1'), 'invalid', KEY, '198.51.100.2', null);
    for (let i = 3; i < 50; i++) log.record(org('o1'), 'invalid', KEY, `198.51.100.${i}`, null);
    expect(counted).toHaveLength(49);
    expect(emitted.map((e) => e.ip)).toEqual(['198.51.100.1', '198.51.100.2', null]);
  });
});
