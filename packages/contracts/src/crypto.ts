import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Secret sealing shared by the API (seal on write) and the gateway (open when starting a
 * backend). AES-256-GCM, a fresh 96-bit IV per value, the org id as additional authenticated
 * data so a sealed value copied to another org does not open. Format: `v1.<iv>.<tag>.<ct>`.
 */
export function parseSecretKey(hex: string | undefined): Buffer {
  if (!hex || !/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new Error('TOOLGATE_SECRET_KEY must be 64 hex characters (generate with: openssl rand -hex 32)');
  }
  return Buffer.from(hex, 'hex');
}

export function sealSecret(key: Buffer, orgId: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(orgId, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `v1.${iv.toString('base64')}.${cipher.getAuthTag().toString('base64')}.${ct.toString('base64')}`;
}

export function openSecret(key: Buffer, orgId: string, sealed: string): string {
  const [v, iv, tag, ct] = sealed.split('.');
  if (v !== 'v1' || iv === undefined || tag === undefined || ct === undefined) {
    throw new Error('unsupported sealed secret format');
  }
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  decipher.setAAD(Buffer.from(orgId, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8');
}

/** Agent keys: `tg_` + 40 base62 characters. Only sha256(key) is ever stored. */
export const AGENT_KEY_PREFIX = 'tg_';
/**
 * Management tokens (the `/v1` API, for automation): `tgm_` + 40 base62. The fourth character
 * is never `_`, so no management token starts with `tg_`, and the gateway (which takes any
 * `tg_` credential for an agent key) can never mistake one for the other.
 */
export const MANAGEMENT_TOKEN_PREFIX = 'tgm_';
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** How many characters of the secret body the visible prefix shows. */
const VISIBLE_BODY = 8;

/** A fresh secret: `prefix` + 40 base62 characters, its visible prefix and its sha256. */
export function generateSecretToken(prefix: string): { key: string; prefix: string; hash: string } {
  const bytes = randomBytes(40);
  let body = '';
  // 248 = 4 * 62: rejection sampling keeps every character uniformly distributed.
  for (let i = 0; body.length < 40; i++) {
    const b = i < bytes.length ? bytes[i]! : randomBytes(1)[0]!;
    if (b < 248) body += BASE62[b % 62];
  }
  const key = `${prefix}${body}`;
  return { key, prefix: key.slice(0, prefix.length + VISIBLE_BODY), hash: sha256Hex(key) };
}

export function generateAgentKey(): { key: string; prefix: string; hash: string } {
  return generateSecretToken(AGENT_KEY_PREFIX);
}

export function generateManagementToken(): { key: string; prefix: string; hash: string } {
  return generateSecretToken(MANAGEMENT_TOKEN_PREFIX);
}

/** The visible part of an agent key (`tg_` + 8 characters): shown in lists, logs and audit records. */
export function agentKeyPrefix(key: string): string {
  return key.slice(0, AGENT_KEY_PREFIX.length + VISIBLE_BODY);
}

/** Whether a bearer credential has the management token shape (`tgm_` + 40 base62). */
export function isManagementToken(value: string): boolean {
  return /^tgm_[A-Za-z0-9]{40}$/.test(value);
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex digests of equal length. */
export function hexDigestEquals(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}
