import { createHash } from 'node:crypto';

/**
 * The audit chain's hashing rules, in one place. Everything a third party needs to verify an
 * export offline is here (and restated in the export's header line, see CHAIN_SPEC):
 *
 * - Canonical JSON (RFC 8785, "JCS"): object keys sorted by UTF-16 code units, no whitespace,
 *   strings and numbers serialised as ECMAScript's JSON.stringify does (shortest round-trip
 *   number form, `\u`-escapes only for control characters, `"` and `\`), `undefined` members
 *   omitted, arrays in order.
 * - hash = lowercase hex of SHA-256 over the UTF-8 bytes of `prevHash + canonicalJson(payload)`,
 *   where prevHash is the previous event's hash (64 hex characters) and the first event of an
 *   org's chain has prevHash = GENESIS_HASH (64 zeros).
 * - Sequence numbers start at 1 per org and have no gaps; the chain is ordered by receipt (seq),
 *   not by the gateway's `at` timestamp.
 */

export const GENESIS_HASH = '0'.repeat(64);

/** Machine-readable description of the rules above, written into exports. */
export const CHAIN_SPEC = {
  algorithm: 'sha256',
  hash: 'hex(sha256(utf8(prevHash + canonicalJson(payload))))',
  canonicalization: 'RFC 8785 (JCS): sorted keys (UTF-16 code units), no whitespace, ECMAScript number and string serialisation',
  genesisPrevHash: GENESIS_HASH,
  order: 'seq ascending, starting at 1 per organisation, no gaps; seq is the order of receipt, `at` is the gateway timestamp',
} as const;

/** RFC 8785 canonical JSON of a JSON value. Throws on values JSON cannot represent. */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON: non-finite number');
      // ECMAScript Number-to-String, which is what RFC 8785 prescribes (JSON.stringify(-0) is "0").
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          // Like JSON.stringify: holes and undefined inside arrays are null.
          out += value[i] === undefined ? 'null' : canonicalJson(value[i]);
        }
        return `${out}]`;
      }
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, exactly as RFC 8785 §3.2.3 requires.
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(k)}:${canonicalJson(v)}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON: cannot represent a ${typeof value}`);
  }
}

/** hash = sha256(prevHash ‖ canonicalJson(payload)), lowercase hex. */
export function chainHash(prevHash: string, payload: unknown): string {
  return createHash('sha256').update(prevHash, 'utf8').update(canonicalJson(payload), 'utf8').digest('hex');
}

/**
 * Makes a JSON value storable in Postgres `jsonb` and `text` without changing what it says in any
 * other way: NUL characters (which Postgres cannot store) and lone UTF-16 surrogates (which are not
 * Unicode text) become U+FFFD. The chain hashes the sanitised value, i.e. exactly what is stored.
 * Returns the same object when nothing needed changing.
 */
export function storableJson<T>(value: T): T {
  return sanitize(value) as T;
}

/** NUL, or a UTF-16 surrogate without its partner. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what is being replaced.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function sanitizeString(s: string): string {
  UNSTORABLE.lastIndex = 0;
  return UNSTORABLE.test(s) ? s.replace(UNSTORABLE, '\uFFFD') : s;
}

function sanitize(value: unknown): unknown {
  if (typeof value === 'string') return sanitizeString(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v = sanitize(value[i]);
      if (v !== value[i]) {
        copy ??= value.slice();
        copy[i] = v;
      }
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | null = null;
  const obj = value as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    const key = sanitizeString(k);
    const v = sanitize(obj[k]);
    if (key !== k || v !== obj[k]) {
      if (copy === null) copy = { ...obj };
      if (key !== k) delete copy[k];
      copy[key] = v;
    }
  }
  return copy ?? value;
}
