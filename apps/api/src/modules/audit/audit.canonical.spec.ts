import { createHash, createHmac } from 'node:crypto';
import {
  canonicalJson,
  chainHash,
  checkpointKey,
  checkpointSignatureValid,
  GENESIS_HASH,
  signCheckpoint,
  storableJson,
  webhookSignature,
} from './audit.canonical';
import { columnsOf } from './audit.rules';

describe('canonical JSON (RFC 8785)', () => {
  it('matches the RFC 8785 §3.2.2 example', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    );
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // (Read the order from the text: JSON.parse would put the integer-like key "1" first again.)
    const out = canonicalJson(input);
    const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'].map((k) => out.indexOf(`${JSON.stringify(k)}:`));
    expect(order.every((pos, i) => pos > 0 && (i === 0 || pos > order[i - 1]!))).toBe(true);
    expect(out.startsWith('{"\\r":"Carriage Return","1":"One","\u0080":"Control"')).toBe(true);
  });

  it('serialises numbers as ECMAScript does (RFC 8785 appendix B samples)', () => {
    expect(canonicalJson([0, -0, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 2 ** 53 + 2, 0.1 + 0.2])).toBe(
      '[0,0,1e+21,1e-7,5e-324,1.7976931348623157e+308,9007199254740994,0.30000000000000004]',
    );
  });

  it('has no whitespace, keeps array order, drops undefined members, nests', () => {
    expect(canonicalJson({ b: [3, { z: 1, a: [] }], a: { d: undefined, c: 'x' }, e: {} })).toBe(
      '{"a":{"c":"x"},"b":[3,{"a":[],"z":1}],"e":{}}',
    );
  });

  it('refuses what JSON cannot represent', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/non-finite/);
    expect(() => canonicalJson({ a: Number.POSITIVE_INFINITY })).toThrow(/non-finite/);
    expect(() => canonicalJson({ a: 1n })).toThrow(/bigint/);
    expect(() => canonicalJson(() => 1)).toThrow(/function/);
  });

  it('is stable under key order and a JSON round trip', () => {
    const a = { x: 1, y: { q: [1, 2, 'ü'], p: null } };
    const b = JSON.parse('{"y":{"p":null,"q":[1,2,"ü"]},"x":1}');
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(chainHash(GENESIS_HASH, a)).toBe(
      createHash('sha256')
        .update(`${GENESIS_HASH}${canonicalJson(b)}`)
        .digest('hex'),
    );
  });
});

describe('storableJson', () => {
  it('replaces NUL and lone surrogates (keys and values), keeps valid pairs, and returns untouched values as is', () => {
    const clean = { a: ['ok', 'ü😀'], b: { c: 1 } };
    expect(storableJson(clean)).toBe(clean);
    const dirty = { 'k\u0000': ['x\ud800', '\udc00y', '😀\u0000'], n: 1 };
    expect(storableJson(dirty)).toEqual({ 'k\uFFFD': ['x\uFFFD', '\uFFFDy', '😀\uFFFD'], n: 1 });
    expect(dirty['k\u0000']).toEqual(['x\ud800', '\udc00y', '😀\u0000']); // input untouched
    expect(storableJson('a\u0000')).toBe('a\uFFFD');
  });
});

describe('checkpoint and webhook signatures', () => {
  const secretKey = Buffer.alloc(32, 1);

  it('derives the checkpoint key from the secret key (HKDF) unless a signing key is configured', () => {
    const derived = checkpointKey(secretKey);
    expect(derived).toHaveLength(32);
    expect(derived.equals(secretKey)).toBe(false);
    expect(checkpointKey(secretKey).equals(derived)).toBe(true);
    expect(checkpointKey(secretKey, 'x'.repeat(40)).toString()).toBe('x'.repeat(40));
  });

  it('signs orgId|seq|hash and checks in constant time', () => {
    const key = checkpointKey(secretKey);
    const sig = signCheckpoint(key, 'org', 12n, 'abc');
    expect(sig).toBe(createHmac('sha256', key).update('org|12|abc').digest('hex'));
    expect(checkpointSignatureValid(key, 'org', 12n, 'abc', sig)).toBe(true);
    expect(checkpointSignatureValid(key, 'org', 13n, 'abc', sig)).toBe(false);
    expect(checkpointSignatureValid(key, 'org', 12n, 'abd', sig)).toBe(false);
    expect(checkpointSignatureValid(checkpointKey(Buffer.alloc(32, 2)), 'org', 12n, 'abc', sig)).toBe(false);
    expect(checkpointSignatureValid(key, 'org', 12n, 'abc', 'not hex')).toBe(false);
  });

  it('signs webhook bodies as t=<unix>,v1=<hmac of "t.body">', () => {
    expect(webhookSignature('whsec_x', 1700000000, '{"a":1}\n')).toBe(
      `t=1700000000,v1=${createHmac('sha256', 'whsec_x').update('1700000000.{"a":1}\n').digest('hex')}`,
    );
  });
});

describe('columnsOf', () => {
  it('derives admin-action columns', () => {
    expect(
      columnsOf({
        kind: 'admin',
        id: 'A',
        orgId: 'B',
        method: 'admin.key.created',
        targetType: 'key',
        targetId: 'k1',
        at: '2026-01-01T00:00:00.000Z',
      }),
    ).toMatchObject({
      id: 'a',
      orgId: 'b',
      method: 'admin.key.created',
      target: 'key:k1',
      decision: 'allow',
      outcome: 'ok',
      keyId: null,
      latencyMs: 0,
    });
    expect(
      columnsOf({ kind: 'admin', id: 'a', orgId: 'b', method: 'admin.org.deleted', targetType: 'org', targetId: null, at: 'x' }).target,
    ).toBe('org');
  });

  it('keeps only UUID-shaped key and server ids in their UUID columns', () => {
    const c = columnsOf({
      id: 'a',
      orgId: 'b',
      keyId: 'legacy-key',
      serverId: 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE',
      method: 'tools/call',
      at: '2026-01-01T00:00:00Z',
    });
    expect(c).toMatchObject({ keyId: null, serverId: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee' });
  });
});

describe('chain hashes across the `cancelled` outcome', () => {
  // A cancelled call as gateways recorded it before `cancelled` existed (outcome `error`), then one
  // recorded since. The digests were computed apart from this code (sorted-key JSON, sha256).
  const before = {
    schemaVersion: 1,
    id: '01931a2b-3c4d-7e5f-8a9b-0c1d2e3f4a5b',
    orgId: '5b1f0c8e-2a4d-4e6f-9a1b-3c5d7e9f1a2b',
    keyId: null,
    serverId: null,
    serverSlug: 'files',
    method: 'tools/call',
    target: 'read_file',
    arguments: { path: '/tmp/a.txt' },
    decision: 'allow',
    rule: 'role:reader/tools[0]',
    outcome: 'error',
    error: 'The call was cancelled: changed my mind',
    latencyMs: 12.5,
    bytesIn: 120,
    bytesOut: 0,
    clientName: 'claude-code',
    clientVersion: '1.0.0',
    sessionId: null,
    ip: '127.0.0.1',
    at: '2026-11-30T12:00:00.000Z',
  };
  const since = { ...before, id: '01931a2b-3c4d-7e5f-8a9b-0c1d2e3f4a5c', outcome: 'cancelled' };

  it('hashes an event recorded before as it did then, and links a cancelled one after it', () => {
    const first = chainHash(GENESIS_HASH, before);
    expect(first).toBe('1f98443cf1a3eba397a07805109b331675d108f943ae3c7fb1b351072c770604');
    expect(chainHash(first, since)).toBe('64d6a14c78c492ddbb0bdd65013458ac5bb153da1022216c8c537c41ef6eb965');
  });

  it('derives the outcome column from the payload as it stands', () => {
    expect(columnsOf(before).outcome).toBe('error');
    expect(columnsOf(since).outcome).toBe('cancelled');
  });
});
