import {
  AGENT_KEY_PREFIX,
  generateAgentKey,
  generateManagementToken,
  hexDigestEquals,
  isManagementToken,
  openSecret,
  parseSecretKey,
  sealSecret,
  sha256Hex,
} from './crypto';

const key = parseSecretKey('ab'.repeat(32));

describe('secret sealing', () => {
  it('round-trips and uses a fresh IV every time', () => {
    const a = sealSecret(key, 'org-1', 'hunter2');
    const b = sealSecret(key, 'org-1', 'hunter2');
    expect(a).not.toBe(b);
    expect(openSecret(key, 'org-1', a)).toBe('hunter2');
    expect(a).toMatch(/^v1\./);
  });

  it('refuses another org, a tampered value and another key', () => {
    const sealed = sealSecret(key, 'org-1', 'value');
    expect(() => openSecret(key, 'org-2', sealed)).toThrow();
    const [v, iv, tag, ct] = sealed.split('.');
    const flipped = Buffer.from(ct!, 'base64');
    flipped[0]! ^= 1;
    expect(() => openSecret(key, 'org-1', [v, iv, tag, flipped.toString('base64')].join('.'))).toThrow();
    expect(() => openSecret(parseSecretKey('cd'.repeat(32)), 'org-1', sealed)).toThrow();
    expect(() => openSecret(key, 'org-1', 'v2.a.b.c')).toThrow('unsupported');
  });

  it('validates the key material', () => {
    expect(() => parseSecretKey(undefined)).toThrow('openssl rand -hex 32');
    expect(() => parseSecretKey('abc')).toThrow();
  });
});

describe('agent keys', () => {
  it('are tg_ + 40 base62 characters, with a 11-character prefix and a sha256 hash', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const k = generateAgentKey();
      expect(k.key).toMatch(/^tg_[A-Za-z0-9]{40}$/);
      expect(k.prefix).toBe(k.key.slice(0, 11));
      expect(k.hash).toBe(sha256Hex(k.key));
      seen.add(k.key);
    }
    expect(seen.size).toBe(200);
  });

  it('compares digests in constant time and by value', () => {
    const h = sha256Hex('x');
    expect(hexDigestEquals(h, sha256Hex('x'))).toBe(true);
    expect(hexDigestEquals(h, sha256Hex('y'))).toBe(false);
    expect(hexDigestEquals(h, 'ab')).toBe(false);
  });
});

describe('management tokens', () => {
  it('are tgm_ + 40 base62 with a 12-character prefix, and never look like a tg_ agent key', () => {
    for (let i = 0; i < 200; i++) {
      const t = generateManagementToken();
      expect(t.key).toMatch(/^tgm_[A-Za-z0-9]{40}$/);
      expect(isManagementToken(t.key)).toBe(true);
      expect(t.key.startsWith(AGENT_KEY_PREFIX)).toBe(false);
      expect(t.prefix).toBe(t.key.slice(0, 12));
      expect(t.hash).toBe(sha256Hex(t.key));
    }
    expect(isManagementToken(generateAgentKey().key)).toBe(false);
    expect(isManagementToken('tgm_short')).toBe(false);
  });
});
