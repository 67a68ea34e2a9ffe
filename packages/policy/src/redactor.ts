import type { RedactionPattern } from './compiled';
import { secretForms } from './secret-forms';

/** Rewrites every string inside a JSON value; returns the very same value when nothing matched. */
export type Redactor = <T>(value: T) => T;

export const SECRET_MARKER = '[REDACTED:secret]';

const identity: Redactor = (v) => v;

/** Assignment would set the prototype for a `__proto__` key (JSON.parse makes it an own property). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/**
 * The one redaction rule for everything that leaves the gateway (results, errors, notifications,
 * server-to-client requests, audit events): every form of the secret values injected into the
 * backend (see secret-forms.ts) becomes `[REDACTED:secret]`, then the role's patterns apply.
 * Returns the input untouched (same object) when nothing matched, so clean responses cost a scan
 * and no copy.
 */
export function makeRedactor(secretValues: readonly string[], patterns: readonly RedactionPattern[]): Redactor {
  const forms = new Map<string, number>();
  for (const secret of new Set(secretValues)) {
    for (const f of secretForms(secret)) forms.set(f.source, Math.max(f.length, forms.get(f.source) ?? 0));
  }
  // At one position the first alternative that matches wins: longest first, so a secret that
  // contains another secret is replaced whole.
  const sources = [...forms].sort((a, b) => b[1] - a[1]).map(([source]) => source);
  const secretRe = sources.length > 0 ? new RegExp(sources.join('|'), 'g') : null;
  if (!secretRe && patterns.length === 0) return identity;

  const scrub = (s: string): string => {
    let out = s;
    if (secretRe) {
      secretRe.lastIndex = 0;
      if (secretRe.test(out)) out = out.replace(secretRe, SECRET_MARKER);
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
      // Keys are text that leaves too (an upstream may key its error data by a token).
      const obj = v as Record<string, unknown>;
      let copy: Record<string, unknown> | null = null;
      for (const k in obj) {
        const cur = obj[k];
        const nk = scrub(k);
        const n = walk(cur);
        if (copy === null && nk === k && n === cur) continue;
        if (copy === null) {
          copy = {};
          for (const before in obj) {
            if (before === k) break;
            setOwn(copy, before, obj[before]);
          }
        }
        setOwn(copy, nk, n);
      }
      return copy ?? v;
    }
    return v;
  };
  return <T>(value: T) => walk(value) as T;
}
