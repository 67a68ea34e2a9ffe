import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { redisKeys } from '@toolgate/contracts';
import { parseEventId, SseEventLog } from './event-log';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
afterAll(() => redis.quit());

const id = () => randomBytes(6).toString('base64url');
/** Recorders write on the next turn of the event loop; give Redis that turn and the round trip. */
const settled = () => new Promise((r) => setTimeout(r, 50));

describe('SseEventLog', () => {
  it('keeps only the last maxEvents events of a stream, with an expiry', async () => {
    const log = new SseEventLog(redis, { maxEvents: 3, ttlMs: 60_000 });
    const session = id();
    const record = log.recorder(session, 'streamA', 'call');
    for (let seq = 1; seq <= 4; seq++) record(seq, `{"n":${seq}}`, false);
    await settled();
    record(5, '{"result":{}}', true);
    await settled();
    expect(await log.read(session, 'streamA')).toEqual([
      { seq: 3, kind: 'call', data: '{"n":3}' },
      { seq: 4, kind: 'call', data: '{"n":4}' },
      { seq: 5, kind: 'final', data: '{"result":{}}' },
    ]);
    const ttl = await redis.pttl(redisKeys.sseEvents(session, 'streamA'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('drops a stream entirely once its expiry passes', async () => {
    const log = new SseEventLog(redis, { maxEvents: 10, ttlMs: 100 });
    const session = id();
    log.recorder(session, 's', 'get')(1, '{"a":1}', false);
    await settled();
    expect(await log.read(session, 's')).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 150));
    expect(await log.read(session, 's')).toEqual([]);
  });

  it('finds nothing of another session’s stream under its stream id', async () => {
    const log = new SseEventLog(redis, { maxEvents: 10, ttlMs: 60_000 });
    const [mine, theirs] = [id(), id()];
    log.recorder(theirs, 'shared-looking', 'get')(1, '{"secret":true}', false);
    await settled();
    expect(await log.read(mine, 'shared-looking')).toEqual([]);
    expect(await log.read(theirs, 'shared-looking')).toHaveLength(1);
  });

  it('keeps the data as sent, spaces and all', async () => {
    const log = new SseEventLog(redis, { maxEvents: 10, ttlMs: 60_000 });
    const session = id();
    log.recorder(session, 's', 'call')(7, '{"text":"a b  c"}', false);
    await settled();
    expect(await log.read(session, 's')).toEqual([{ seq: 7, kind: 'call', data: '{"text":"a b  c"}' }]);
  });

  it('a Redis that is down costs the record, not the caller (no throw, no unhandled rejection)', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on('error', () => undefined);
    const log = new SseEventLog(dead, { maxEvents: 10, ttlMs: 60_000 });
    expect(() => log.recorder(id(), 's', 'call')(1, '{}', false)).not.toThrow();
    await settled();
    await expect(log.read(id(), 's')).rejects.toThrow();
    dead.disconnect();
  });
});

describe('parseEventId', () => {
  it('reads <streamId>:<seq> and nothing else', () => {
    expect(parseEventId('AbC_-12:42')).toEqual({ streamId: 'AbC_-12', seq: 42 });
    for (const bad of ['', '42', 'abc', 'abc:', ':1', 'a:b', 'a:1:2', 'a b:1', `${'x'.repeat(65)}:1`, 'a:1e3']) {
      expect(parseEventId(bad)).toBeNull();
    }
  });
});
