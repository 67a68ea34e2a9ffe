import type { RedactionPattern } from '@toolgate/policy';

export type Redactor = <T>(value: T) => T;

/** Secret values shorter than this are not redacted (they would shred ordinary text). */
const MIN_SECRET_LENGTH = 4;

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Builds a function that rewrites every string inside a JSON value: secret values the gateway
 * injected into the backend become `[REDACTED:secret]`, and the role's patterns apply after.
 * Returns the input untouched (same object) when nothing matched, so clean responses cost a scan
 * and no copy.
 */
export function makeRedactor(secretValues: readonly string[], patterns: readonly RedactionPattern[]): Redactor {
  const secrets = [...new Set(secretValues.filter((s) => s.length >= MIN_SECRET_LENGTH))].sort((a, b) => b.length - a.length);
  const secretRe = secrets.length > 0 ? new RegExp(secrets.map(escapeRegex).join('|'), 'g') : null;
  if (!secretRe && patterns.length === 0) return (v) => v;

  const scrub = (s: string): string => {
    let out = s;
    if (secretRe) {
      secretRe.lastIndex = 0;
      if (secretRe.test(out)) out = out.replace(secretRe, '[REDACTED:secret]');
    }
    for (const p of patterns) {
      p.regex.lastIndex = 0;
      if (p.regex.test(out)) out = out.replace(p.regex, p.replacement);
    }
    return out;
  };

  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return scrub(v);
    if (Array.isArray(v)) {
      let copy: unknown[] | null = null;
      for (let i = 0; i < v.length; i++) {
        const n = walk(v[i]);
        if (n !== v[i]) {
          copy ??= v.slice();
          copy[i] = n;
        }
      }
      return copy ?? v;
    }
    if (v !== null && typeof v === 'object') {
      let copy: Record<string, unknown> | null = null;
      for (const k in v as Record<string, unknown>) {
        const cur = (v as Record<string, unknown>)[k];
        const n = walk(cur);
        if (n !== cur) {
          copy ??= { ...(v as Record<string, unknown>) };
          copy[k] = n;
        }
      }
      return copy ?? v;
    }
    return v;
  };
  return <T>(value: T) => walk(value) as T;
}
