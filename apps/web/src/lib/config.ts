/** Where the dashboard's server reaches the API (never exposed to the browser). */
export function apiBase(): string {
  const url = process.env.TOOLGATE_API_URL ?? process.env.PUBLIC_API_URL ?? `http://127.0.0.1:${process.env.API_PORT ?? '4000'}`;
  return url.replace(/\/+$/, '');
}

/**
 * How long the dashboard's server waits for an API answer before it shows the outage instead
 * (a hung API must not hang every page: the proxy refreshes sessions on the way to each one).
 */
export function apiTimeoutMs(): number {
  const ms = Number(process.env.TOOLGATE_API_TIMEOUT_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : 30_000;
}

/** Cookies are `Secure` when the dashboard is served over https. */
export function secureCookies(): boolean {
  return (process.env.PUBLIC_WEB_URL ?? '').startsWith('https://');
}

/** The API's address as people reach it (for copy-paste examples such as a curl line). */
export function publicApiUrl(): string {
  return (process.env.PUBLIC_API_URL ?? apiBase()).replace(/\/+$/, '');
}
