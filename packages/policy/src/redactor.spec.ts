import { makeRedactor } from './redactor';
import { MIN_FRAGMENT_LENGTH } from './secret-forms';
import { carriesSecret as carries } from './test-fixtures';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const b64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const form = (s: string) => new URLSearchParams({ s }).toString().slice(2);

describe('makeRedactor', () => {
  it('replaces injected secret values anywhere in a JSON value, longest first', () => {
    const r = makeRedactor(['s3cr3t-token', 's3cr3t'], []);
    const input = { content: [{ type: 'text', text: 'TOKEN=s3cr3t-token and s3cr3t' }], n: 1 };
    expect(r(input)).toEqual({ content: [{ type: 'text', text: 'TOKEN=[REDACTED:secret] and [REDACTED:secret]' }], n: 1 });
    expect(input.content[0]!.text).toBe('TOKEN=s3cr3t-token and s3cr3t');
  });

  it('applies role patterns after secrets and treats regex specials in secrets literally', () => {
    const r = makeRedactor(['a.b*c'], [{ name: 'email', regex: /[\w.]+@[\w.]+/gu, replacement: '[REDACTED:email]' }]);
    expect(r('x a.b*c y axbbc bob@example.com')).toBe('x [REDACTED:secret] y axbbc [REDACTED:email]');
  });

  it('ignores very short secrets', () => {
    expect(makeRedactor(['ab'], [])('abc')).toBe('abc');
  });

  it('redacts object keys too, and a __proto__ key stays an own property', () => {
    const r = makeRedactor(['key-s3cr3t-42'], []);
    const value = JSON.parse('{"a":1,"key-s3cr3t-42":"x","__proto__":"key-s3cr3t-42","z":2}') as Record<string, unknown>;
    const out = r(value);
    expect(Object.keys(out)).toEqual(['a', '[REDACTED:secret]', '__proto__', 'z']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.stringify(out)).toBe('{"a":1,"[REDACTED:secret]":"x","__proto__":"[REDACTED:secret]","z":2}');
  });
});

describe('makeRedactor: the forms a secret leaves in', () => {
  // Characters every URL encoder treats differently (space / + = ~ ! * ' ( ) and a non-ASCII one);
  // `?>` puts a `/` into its base64, so base64 and base64url differ.
  const secret = "sk live/Zq9+x=y~!*'()é?>-7f3a91c2";
  const r = makeRedactor([secret], []);
  const gone = (text: string) => {
    expect(carries(text, secret)).toBe(true); // the oracle sees the leak before redaction
    const out = r(text);
    expect(out).toContain('[REDACTED:secret]');
    expect(carries(out, secret)).toBe(false);
    return out;
  };

  it('the value as is, and JSON-escaped inside text', () => {
    expect(gone(`token=${secret};`)).toBe('token=[REDACTED:secret];');
    const quoted = makeRedactor(['pa"ss\\word'], []);
    expect(quoted(String.raw`{"password":"pa\"ss\\word"}`)).toBe('{"password":"[REDACTED:secret]"}');
  });

  it('URL-encoded: encodeURIComponent, encodeURI, form encoding with +, lower-case escapes', () => {
    for (const encoded of [
      encodeURIComponent(secret),
      encodeURI(secret),
      form(secret),
      encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
    ]) {
      expect(encoded).not.toBe(secret);
      expect(gone(`GET /v1?token=${encoded}&x=1`)).toBe('GET /v1?token=[REDACTED:secret]&x=1');
    }
  });

  it('base64 and base64url, padded and unpadded', () => {
    const padded = b64(secret);
    expect(padded).toMatch(/=$/);
    expect(b64url(secret)).not.toBe(padded.replace(/=+$/, ''));
    for (const encoded of [padded, padded.replace(/=+$/, ''), b64url(secret), `${b64url(secret)}=`]) {
      expect(gone(`X-Token: ${encoded} (sent)`)).toBe('X-Token: [REDACTED:secret] (sent)');
    }
  });

  it('base64 of the secret inside a longer encoding, at every byte alignment (Basic auth of user:secret)', () => {
    const alignments = new Set<number>();
    for (const user of ['u', 'us', 'usr', 'user', 'admin1']) {
      const credential = `${user}:${secret}`;
      alignments.add((user.length + 1) % 3);
      for (const encoded of [b64(credential), b64url(credential), b64(`${credential}:trailer`)]) {
        const out = gone(`Authorization: Basic ${encoded}`);
        expect(out).not.toContain(encoded);
      }
    }
    expect([...alignments].sort()).toEqual([0, 1, 2]);
    // A JWT-like payload: the secret inside base64url JSON.
    gone(`eyJhbGciOiJIUzI1NiJ9.${b64url(JSON.stringify({ sub: 'svc', key: secret }))}.sig`);
  });

  it('hex, lower and upper case', () => {
    const hex = Buffer.from(secret, 'utf8').toString('hex');
    expect(gone(`dump ${hex}`)).toBe('dump [REDACTED:secret]');
    expect(gone(`dump ${hex.toUpperCase()}`)).toBe('dump [REDACTED:secret]');
  });

  it('reaches every string of a JSON-RPC error: message and nested data', () => {
    const error = {
      code: -32001,
      message: `refused ${encodeURIComponent(secret)}`,
      data: { headers: { authorization: `Basic ${b64(`svc:${secret}`)}` }, tail: [`TOKEN=${secret}`] },
    };
    const out = r(error);
    expect(carries(JSON.stringify(out), secret)).toBe(false);
    expect(out.code).toBe(-32001);
  });
});

describe('makeRedactor: no false positives, no copies of clean values', () => {
  const secrets = ['ghp_9fK2mQ7xLw3ZpR8sT1vY4bN6cD0eH5jA', 'sk live/Zq9+x=y', 'abcd', 'pin1'];
  const r = makeRedactor(secrets, [{ name: 'n', regex: /\d{16}/gu, replacement: '#' }]);

  it('returns the very same object when nothing matches', () => {
    const clean = { a: ['x', { b: 'y' }], n: 3, t: true, z: null };
    expect(r(clean)).toBe(clean);
  });

  it('copies only the path to a changed string; untouched siblings are shared', () => {
    const sibling = { deep: ['keep'] };
    const value = { sibling, list: ['ok', `has ${secrets[0]}`] };
    const out = r(value);
    expect(out).not.toBe(value);
    expect(out.sibling).toBe(sibling);
    expect(out.list).toEqual(['ok', 'has [REDACTED:secret]']);
    expect(value.list[1]).toBe(`has ${secrets[0]}`);
  });

  it('leaves ordinary text, JSON, URLs, hashes and base64 data alone', () => {
    const texts = [
      'The quick brown fox jumps over the lazy dog. Abcde, Pineapple, pin code and ABCD are words.',
      '{"user":"ada","scopes":["repo","read:org"],"url":"https://api.example.com/v1/items?page=2&per_page=100"}',
      'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      // An image-sized base64 blob of pseudo-random bytes.
      Buffer.from(Array.from({ length: 48_000 }, (_, i) => (i * 2654435761) >>> 24)).toString('base64'),
      Buffer.from('user:another-password-entirely').toString('base64'),
    ];
    for (const text of texts) expect(r(text)).toBe(text);
  });

  it('never matches base64 fragments shorter than the minimum (short secrets only as whole encodings)', () => {
    // 'abcd' → YWJjZA: only whole; its embedded fragments would be under MIN_FRAGMENT_LENGTH chars.
    expect(MIN_FRAGMENT_LENGTH).toBeGreaterThanOrEqual(8);
    const inside = Buffer.from('xx:abcd and more').toString('base64');
    expect(r(inside)).toBe(inside);
    expect(r('YWJjZA')).toBe('[REDACTED:secret]');
  });

  it('is the identity without secrets or patterns', () => {
    const v = { a: 'sk live/Zq9+x=y' };
    expect(makeRedactor([], [])(v)).toBe(v);
    expect(makeRedactor(['ab'], [])(v)).toBe(v);
  });
});
