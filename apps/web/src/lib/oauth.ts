/** Pure helpers for the OAuth consent and connected-apps pages: no fetching, so tests import them. */

/** The host of a URL for display (`app.example.com`, or `scheme:` for a private-use scheme), null if unreadable. */
export function hostOf(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.host || u.protocol;
  } catch {
    return null;
  }
}

/** Role names the client asked for in its scope (`role:<name>` items), to preselect them. */
export function scopeRoleNames(scope: string | null | undefined): Set<string> {
  const names = new Set<string>();
  for (const item of (scope ?? '').split(/\s+/)) {
    if (item.startsWith('role:') && item.length > 5) names.add(item.slice(5));
  }
  return names;
}

/**
 * Whether `redirectTo` (the API's answer to approve or deny) goes to the redirect URI the person
 * was shown: the same URL apart from the query the API adds (code, state, error). The API has
 * validated it already; this keeps a bug or a tampered answer from sending the browser, with a
 * code, anywhere else. Script-running schemes are refused outright.
 */
export function isRedirectFor(redirectTo: string, redirectUri: string): boolean {
  let to: URL;
  let uri: URL;
  try {
    to = new URL(redirectTo);
    uri = new URL(redirectUri);
  } catch {
    return false;
  }
  if (['javascript:', 'data:', 'vbscript:', 'blob:', 'file:'].includes(to.protocol)) return false;
  const base = (u: URL) => `${u.protocol}//${u.username}:${u.password}@${u.host}${u.pathname}`;
  return base(to) === base(uri) && !to.hash;
}
