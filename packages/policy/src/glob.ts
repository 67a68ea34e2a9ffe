/**
 * Globs as used by role rules: `*` matches any run of characters (including none), `?` exactly
 * one character (one UTF-16 code unit: tool names and URIs are ASCII in practice), everything
 * else matches itself. Matching is anchored at both ends and case-sensitive.
 *
 * Globs are compiled once per snapshot into a matcher. They are deliberately NOT turned into
 * regular expressions: a glob like `*a*a*a*a*b` becomes a backtracking regex that an agent could
 * stall with a long crafted name (ReDoS on the shared hot path). The hand-written matcher below
 * is O(pattern × subject) in the worst case and linear in the common cases, and because nothing
 * is ever handed to the regex engine, regex metacharacters in names need no escaping at all.
 */
export type GlobMatcher = (subject: string) => boolean;

const STAR = 42; // '*'
const QUESTION = 63; // '?'

const matchAll: GlobMatcher = () => true;

/** Compiles a glob into a matcher, picking a fast path for the common shapes. */
export function compileGlob(glob: string): GlobMatcher {
  // `a**b` means the same as `a*b`; collapsing keeps the fast paths below applicable.
  const pattern = glob.replace(/\*{2,}/g, '*');
  const firstStar = pattern.indexOf('*');
  const hasQuestion = pattern.includes('?');

  if (!hasQuestion) {
    if (firstStar === -1) return (subject) => subject === pattern;
    if (pattern === '*') return matchAll;
    const lastStar = pattern.lastIndexOf('*');
    if (firstStar === lastStar) {
      // Exactly one star: `prefix*suffix` (either part may be empty).
      const prefix = pattern.slice(0, firstStar);
      const suffix = pattern.slice(firstStar + 1);
      const minLength = prefix.length + suffix.length;
      if (suffix === '') return (subject) => subject.startsWith(prefix);
      if (prefix === '') return (subject) => subject.endsWith(suffix);
      return (subject) => subject.length >= minLength && subject.startsWith(prefix) && subject.endsWith(suffix);
    }
  }

  // General case. The literal text before the first wildcard is a cheap early reject.
  const prefix = literalPrefix(pattern);
  return (subject) => subject.startsWith(prefix) && wildcardMatch(pattern, subject, prefix.length);
}

/** The literal text before the first wildcard: every subject the glob matches starts with it. */
export function literalPrefix(glob: string): string {
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charCodeAt(i);
    if (c === STAR || c === QUESTION) return glob.slice(0, i);
  }
  return glob;
}

/**
 * Classic greedy wildcard matching with a single backtrack point (the most recent `*`): when a
 * literal mismatches after a star, the star absorbs one more character and matching resumes.
 * One backtrack point suffices because a later star can absorb anything an earlier one could.
 * Both strings are scanned from `start` (a prefix already known to be equal).
 */
function wildcardMatch(pattern: string, subject: string, start: number): boolean {
  let p = start;
  let s = start;
  let starP = -1; // index of the last `*` seen in pattern
  let starS = 0; // where in subject that star's run currently ends
  while (s < subject.length) {
    const pc = p < pattern.length ? pattern.charCodeAt(p) : -1;
    if (pc === STAR) {
      starP = p++;
      starS = s;
    } else if (pc === QUESTION || (pc !== -1 && pc === subject.charCodeAt(s))) {
      p++;
      s++;
    } else if (starP !== -1) {
      p = starP + 1;
      s = ++starS;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === STAR) p++;
  return p === pattern.length;
}

/**
 * Globs and URI templates as token lists, for asking whether two of them can match the same
 * string (resource templates against resource rules): a character code, ANY_ONE (`?`) or
 * ANY_RUN (`*`, and every template expression).
 */
export const ANY_RUN = -1;
export const ANY_ONE = -2;
export type Pattern = readonly number[];

export function globPattern(glob: string): Pattern {
  const out: number[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charCodeAt(i);
    const t = c === STAR ? ANY_RUN : c === QUESTION ? ANY_ONE : c;
    if (t !== ANY_RUN || out[out.length - 1] !== ANY_RUN) out.push(t);
  }
  return out;
}

/**
 * Is there a string both patterns match? Dynamic programming over pairs of positions (a run
 * absorbs the other side's next token, or ends): O(a × b) time and bytes, no backtracking.
 */
export function patternsIntersect(a: Pattern, b: Pattern): boolean {
  const n = a.length;
  const m = b.length;
  const w = m + 1;
  const reach = new Uint8Array((n + 1) * w);
  reach[0] = 1;
  for (let i = 0; i <= n; i++) {
    for (let j = 0; j <= m; j++) {
      if (reach[i * w + j] === 0) continue;
      const x = i < n ? a[i] : undefined;
      const y = j < m ? b[j] : undefined;
      if (x === ANY_RUN) {
        reach[(i + 1) * w + j] = 1;
        if (y !== undefined && y !== ANY_RUN) reach[i * w + j + 1] = 1;
      }
      if (y === ANY_RUN) {
        reach[i * w + j + 1] = 1;
        if (x !== undefined && x !== ANY_RUN) reach[(i + 1) * w + j] = 1;
      }
      if (x !== undefined && y !== undefined && x !== ANY_RUN && y !== ANY_RUN && (x === ANY_ONE || y === ANY_ONE || x === y)) {
        reach[(i + 1) * w + j + 1] = 1;
      }
    }
  }
  return reach[n * w + m] === 1;
}
