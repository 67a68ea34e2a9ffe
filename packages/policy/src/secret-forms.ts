/**
 * The shapes in which an injected secret can come back out of an upstream: servers echo tokens
 * as they are, URL-encoded (query strings, form bodies), JSON-escaped, base64 (a token on its own,
 * or inside an encoded `user:token` Basic credential or JWT payload) and hex. Each form is a
 * regex source plus the length of text it matches, so the redactor can try longer forms first.
 */

/** Secret values shorter than this are not redacted at all (they would shred ordinary text). */
export const MIN_SECRET_LENGTH = 4;

/**
 * The shortest base64 fragment matched inside a longer encoding (48 bits). Shorter fragments turn
 * up by chance in ordinary base64 data (images, blobs) and would be cut out of it.
 */
export const MIN_FRAGMENT_LENGTH = 8;

export interface SecretForm {
  readonly source: string;
  readonly length: number;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `%2F` also matches `%2f`: encoders disagree on the case of percent escapes. */
const caseless = (c: string) => (/[A-F]/.test(c) ? `[${c}${c.toLowerCase()}]` : c);
const percentSource = (encoded: string) =>
  escapeRegex(encoded).replace(/%([0-9A-F])([0-9A-F])/g, (_, hi: string, lo: string) => `%${caseless(hi)}${caseless(lo)}`);

// Web APIs rather than Buffer: this package stays free of Node-only code.
const utf8 = (s: string) => new TextEncoder().encode(s);
const base64 = (bytes: Uint8Array) => {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
};
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const unpadded = (b64: string) => b64.replace(/=+$/, '');
const toUrlAlphabet = (b64: string) => b64.replace(/\+/g, '-').replace(/\//g, '_');

/**
 * The part of base64(prefix ‖ secret) that depends on the secret's bytes alone, for a prefix of
 * `align` bytes (0, 1 or 2: every byte alignment inside a longer encoding). Characters that mix
 * bits of the unknown neighbours are dropped at both ends, so the fragment is the same whatever
 * surrounds the secret.
 */
function stableBase64(bytes: Uint8Array, align: 0 | 1 | 2): string {
  const shifted = new Uint8Array(align + bytes.length);
  shifted.set(bytes, align);
  const encoded = unpadded(base64(shifted));
  const lead = Math.ceil((align * 8) / 6);
  const trail = (align + bytes.length) % 3 === 0 ? 0 : 1;
  return encoded.slice(lead, encoded.length - trail);
}

/** Every form of `secret` to redact, without duplicates; none for a secret below MIN_SECRET_LENGTH. */
export function secretForms(secret: string): SecretForm[] {
  if (secret.length < MIN_SECRET_LENGTH) return [];
  const forms = new Map<string, number>();
  const add = (source: string, length: number) => {
    if (length > (forms.get(source) ?? 0)) forms.set(source, length);
  };
  const literal = (text: string) => add(escapeRegex(text), text.length);

  literal(secret);
  literal(JSON.stringify(secret).slice(1, -1));
  for (const encoded of [encodeURIComponent(secret), encodeURI(secret), new URLSearchParams({ s: secret }).toString().slice(2)]) {
    add(percentSource(encoded), encoded.length);
  }

  const bytes = utf8(secret);
  const whole = unpadded(base64(bytes));
  for (const b64 of [whole, toUrlAlphabet(whole)]) add(`${escapeRegex(b64)}={0,2}`, b64.length);
  for (const align of [0, 1, 2] as const) {
    const fragment = stableBase64(bytes, align);
    if (fragment.length < MIN_FRAGMENT_LENGTH) continue;
    literal(fragment);
    literal(toUrlAlphabet(fragment));
  }

  const hexed = hex(bytes);
  literal(hexed);
  literal(hexed.toUpperCase());
  return [...forms].map(([source, length]) => ({ source, length }));
}
