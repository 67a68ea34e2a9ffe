import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { ForbiddenTargetError, guardedLookup, isForbiddenAddress } from './ssrf-guard';

/** A client ID metadata document is small; anything bigger is refused, not truncated. */
export const METADATA_MAX_BYTES = 5 * 1024;
export const METADATA_TIMEOUT_MS = 3000;
/** Cache lifetime bounds: Cache-Control max-age is honoured between these. */
export const METADATA_TTL_DEFAULT_S = 300;
export const METADATA_TTL_MIN_S = 60;
export const METADATA_TTL_MAX_S = 86_400;

export class MetadataFetchError extends Error {}

export interface FetchedDocument {
  body: unknown;
  /** Seconds the document may be cached (bounded). */
  ttlSeconds: number;
}

/**
 * Why this client_id cannot be a metadata document URL, or null when it can: https (plain http
 * only for operator-allowed hosts), a path, no credentials, fragment or dot segments.
 */
export function clientIdUrlProblem(clientId: string, allowHosts: readonly string[]): string | null {
  let u: URL;
  try {
    u = new URL(clientId);
  } catch {
    return 'is not a URL';
  }
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && allowHosts.includes(host))) return 'must be an https URL';
  if (u.username || u.password || u.hash) return 'must not contain credentials or a fragment';
  if (u.pathname === '/' || u.pathname === '') return 'must have a path';
  if (/\/\.\.?(\/|$)/.test(clientId.split('?')[0]!.replace(/^[a-z]+:\/\/[^/]*/i, ''))) return 'must not contain dot segments';
  return null;
}

/**
 * GET a client ID metadata document with the SSRF guard: the host's every address is checked
 * and the socket connects to a checked one (guardedLookup); IP literals are checked here since
 * Node does not look them up. No redirects, a size cap, a timeout, JSON only.
 */
export function fetchClientMetadata(url: string, allowHosts: readonly string[]): Promise<FetchedDocument> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const allowed = allowHosts.includes(host);
  if (isIP(host) && !allowed && isForbiddenAddress(host)) {
    return Promise.reject(new MetadataFetchError(`the client_id host ${host} is a private, loopback or link-local address`));
  }
  const client = u.protocol === 'https:' ? https : http;
  return new Promise<FetchedDocument>((resolve, reject) => {
    const fail = (message: string) => reject(new MetadataFetchError(message));
    const req = client.get(
      u,
      {
        agent: false,
        lookup: guardedLookup(allowed) as never,
        headers: { accept: 'application/json', 'user-agent': 'Toolgate-OAuth/1' },
        timeout: METADATA_TIMEOUT_MS,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          res.resume();
          return fail(`the client metadata document redirects (${status}); redirects are not followed`);
        }
        if (status !== 200) {
          res.resume();
          return fail(`fetching the client metadata document answered ${status}`);
        }
        const type = String(res.headers['content-type'] ?? '').toLowerCase();
        if (!/^application\/([a-z0-9.+-]*\+)?json\b/.test(type)) {
          res.resume();
          return fail('the client metadata document is not application/json');
        }
        if (Number(res.headers['content-length'] ?? 0) > METADATA_MAX_BYTES) {
          req.destroy();
          return fail(`the client metadata document is larger than ${METADATA_MAX_BYTES} bytes`);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > METADATA_MAX_BYTES) {
            req.destroy();
            fail(`the client metadata document is larger than ${METADATA_MAX_BYTES} bytes`);
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (size > METADATA_MAX_BYTES) return;
          try {
            resolve({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')), ttlSeconds: cacheSeconds(res.headers['cache-control']) });
          } catch {
            fail('the client metadata document is not valid JSON');
          }
        });
        res.on('error', (e) => fail(`reading the client metadata document failed: ${e.message}`));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      fail(`fetching the client metadata document timed out after ${METADATA_TIMEOUT_MS} ms`);
    });
    req.on('error', (e) => {
      if (e instanceof ForbiddenTargetError || (e as NodeJS.ErrnoException).code === 'EFORBIDDEN') {
        return fail(`the client_id host ${host} resolves to a private, loopback or link-local address`);
      }
      fail(`fetching the client metadata document failed: ${e.message}`);
    });
  });
}

/** Seconds to cache by Cache-Control (max-age; no-store/no-cache → the minimum), bounded. */
function cacheSeconds(header: string | undefined): number {
  const v = (header ?? '').toLowerCase();
  if (/\bno-(store|cache)\b/.test(v)) return METADATA_TTL_MIN_S;
  const m = /\bmax-age=(\d+)/.exec(v);
  if (!m) return METADATA_TTL_DEFAULT_S;
  return Math.min(METADATA_TTL_MAX_S, Math.max(METADATA_TTL_MIN_S, Number(m[1])));
}
