/** A fresh nonce per response (128 random bits, base64). */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

/** The live audit WebSocket goes straight to the API's public URL (ws:// or wss:// of it). */
function liveAuditOrigin(): string | null {
  const api = process.env.PUBLIC_API_URL;
  if (!api) return null;
  try {
    const url = new URL(api);
    return `${url.protocol === 'https:' ? 'wss:' : 'ws:'}//${url.host}`;
  } catch {
    return null;
  }
}

/**
 * The dashboard's Content-Security-Policy. Scripts run only with this response's nonce (Next puts
 * it on its own scripts when the request carries this header; 'strict-dynamic' lets them load
 * their chunks), so no injected inline script runs. Style attributes stay allowed: React renders
 * `style={{…}}` as attributes, which nonces cannot cover, and they cannot run code.
 * `next dev` needs eval for its refresh runtime; production never gets it.
 */
export function contentSecurityPolicy(nonce: string, dev = process.env.NODE_ENV === 'development'): string {
  const live = liveAuditOrigin();
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ''}`,
    `style-src 'self' 'nonce-${nonce}'`,
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self'${live ? ` ${live}` : ''}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}
