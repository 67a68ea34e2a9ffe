import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * The chain's hashing rules (canonical JSON, chainHash, genesis) live in @toolgate/contracts
 * (audit-chain.ts): the standalone gateway's local audit file uses the very same ones. The
 * API-only keys and signatures around the chain stay here.
 */
export { CHAIN_SPEC, canonicalJson, chainHash, GENESIS_HASH, storableJson } from '@toolgate/contracts';

// ---- Retention checkpoints -------------------------------------------------------------------

/**
 * The checkpoint signing key: AUDIT_SIGNING_KEY when set, otherwise HKDF-SHA256 of the
 * TOOLGATE_SECRET_KEY with a purpose label, so the sealing key itself is never used to sign.
 */
export function checkpointKey(secretKey: Buffer, signingKey?: string): Buffer {
  if (signingKey) return Buffer.from(signingKey, 'utf8');
  return Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'toolgate audit checkpoint v1', 32));
}

/** HMAC-SHA256 (hex) over `orgId|seq|hash`: the last pruned event of a retention checkpoint. */
export function signCheckpoint(key: Buffer, orgId: string, seq: bigint | number, hash: string): string {
  return createHmac('sha256', key).update(`${orgId}|${seq}|${hash}`, 'utf8').digest('hex');
}

export function checkpointSignatureValid(key: Buffer, orgId: string, seq: bigint | number, hash: string, signature: string): boolean {
  const expected = Buffer.from(signCheckpoint(key, orgId, seq, hash), 'hex');
  const given = /^[0-9a-f]{64}$/.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

// ---- SIEM webhook signatures -----------------------------------------------------------------

/**
 * `X-Toolgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The
 * receiver recomputes v1 over the raw body and refuses old timestamps (replay protection).
 */
export function webhookSignature(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.`, 'utf8').update(body, 'utf8').digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}
