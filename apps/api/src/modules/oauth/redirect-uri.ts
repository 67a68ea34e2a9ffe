/** Hosts where an http redirect URI is acceptable: the native app's own loopback listener (RFC 8252 §7.3). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Schemes a browser would run or read locally instead of navigating to a client: never a redirect target. */
const FORBIDDEN_SCHEMES = new Set([
  'javascript',
  'data',
  'file',
  'vbscript',
  'about',
  'blob',
  'filesystem',
  'view-source',
  'ftp',
  'ws',
  'wss',
  'mailto',
  'tel',
  'chrome',
  'chrome-extension-internal',
]);

/**
 * Why a redirect URI cannot be registered, or null when it can: https anywhere; http only to a
 * loopback host; a private-use scheme for native apps (RFC 8252 §7.1); never a fragment,
 * credentials, or a scheme that runs or reads something in the browser.
 */
export function redirectUriProblem(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length === 0) return 'must be a non-empty string';
  if (raw.length > 2000) return 'must be at most 2000 characters';
  if ([...raw].some((c) => c.charCodeAt(0) <= 0x20 || c.charCodeAt(0) === 0x7f)) return 'must not contain whitespace or control characters';
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'must be an absolute URI';
  }
  const scheme = u.protocol.slice(0, -1).toLowerCase();
  if (u.hash || raw.includes('#')) return 'must not contain a fragment';
  if (u.username || u.password) return 'must not contain credentials';
  if (FORBIDDEN_SCHEMES.has(scheme)) return `the ${scheme}: scheme is not allowed`;
  if (scheme === 'https') return u.hostname ? null : 'must name a host';
  if (scheme === 'http')
    return LOOPBACK_HOSTS.has(u.hostname) ? null : 'http is only allowed for loopback hosts (127.0.0.1, localhost, [::1]); use https';
  if (!/^[a-z][a-z0-9+.-]*$/.test(scheme)) return 'has an invalid scheme';
  return null;
}
