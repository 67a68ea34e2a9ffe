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

/** Loopback IP literals whose port may vary per request (RFC 8252 §7.3; OAuth 2.1 §8.4.2). */
const LOOPBACK_IPS = new Set(['127.0.0.1', '[::1]']);

/**
 * Is `requested` one of the `registered` redirect URIs? Exact string comparison, except that a
 * native app's http loopback IP listener may come back on another port: the OS picks it per run.
 * Scheme, host, path and query must still be identical.
 */
export function isRegisteredRedirectUri(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  const want = loopbackWithoutPort(requested);
  return want !== null && registered.some((r) => loopbackWithoutPort(r) === want);
}

function loopbackWithoutPort(raw: string): string | null {
  if (!raw.startsWith('http://')) return null;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return null;
  }
  if (!LOOPBACK_IPS.has(u.hostname) || u.username || u.password || u.hash) return null;
  // Compare the rest as written (only the authority's port is dropped): no normalisation.
  const afterAuthority = raw.slice(raw.indexOf('/', 'http://'.length) === -1 ? raw.length : raw.indexOf('/', 'http://'.length));
  return `http://${u.hostname}${afterAuthority}`;
}
