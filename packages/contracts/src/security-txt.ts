/** How long a computed Expires lies ahead of the response (RFC 9116 asks for less than a year). */
const COMPUTED_EXPIRY_DAYS = 90;

export interface SecurityTxtSettings {
  /** Contact URIs or bare e-mail addresses (these become `mailto:`). */
  contact: readonly string[];
  /** ISO 8601; unset: COMPUTED_EXPIRY_DAYS after `now`. */
  expires?: string;
  /** The file's own URL (RFC 9116 Canonical), when the service knows its public address. */
  canonical?: string;
}

/** `mailto:` for a bare e-mail address; URIs (mailto:, https:, tel:) as they are. */
export function securityContactUri(entry: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(entry) ? entry : `mailto:${entry}`;
}

/**
 * The RFC 9116 `/.well-known/security.txt` body (text/plain; charset=utf-8), or null when no
 * contact is configured: Contact is required, and the route then answers 404.
 */
export function securityTxt(settings: SecurityTxtSettings, now: Date = new Date()): string | null {
  if (settings.contact.length === 0) return null;
  const expires = settings.expires ? new Date(settings.expires) : new Date(now.getTime() + COMPUTED_EXPIRY_DAYS * 86_400_000);
  const lines = settings.contact.map((c) => `Contact: ${securityContactUri(c)}`);
  lines.push(`Expires: ${expires.toISOString().replace(/\.\d{3}Z$/, 'Z')}`);
  if (settings.canonical) lines.push(`Canonical: ${settings.canonical}`);
  lines.push('Preferred-Languages: en');
  return `${lines.join('\n')}\n`;
}
