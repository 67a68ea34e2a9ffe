/** Where the dashboard's server reaches the API (never exposed to the browser). */
export function apiBase(): string {
  const url = process.env.TOOLGATE_API_URL ?? process.env.PUBLIC_API_URL ?? `http://127.0.0.1:${process.env.API_PORT ?? '4000'}`;
  return url.replace(/\/+$/, '');
}

/** Cookies are `Secure` when the dashboard is served over https. */
export function secureCookies(): boolean {
  return (process.env.PUBLIC_WEB_URL ?? '').startsWith('https://');
}
