/**
 * Constraint values that reference the calling key's metadata, e.g. `${key.metadata.customer_id}`.
 *
 * - A string that is exactly one reference resolves to the metadata value with its own type
 *   (a number stays a number), so `equals: "${key.metadata.limit}"` compares against 42, not "42".
 * - References embedded in a longer string are substituted as text: `"org-${key.metadata.org}"`.
 * - Paths may descend into nested objects: `${key.metadata.billing.account}`.
 * - Only `key.metadata.<path>` is supported. Any other `${...}` — and any reference whose value
 *   is missing, null or (for embedding) not a string/number/boolean — is UNRESOLVED, and an
 *   unresolved value matches nothing. A reference never falls back to matching its own text.
 */

export type Scalar = string | number | boolean;

/** Marker for a reference that could not be resolved. */
export const UNRESOLVED: unique symbol = Symbol('unresolved');
export type Unresolved = typeof UNRESOLVED;

/** A metadata path (`['billing', 'account']`), or null for an unsupported `${...}` expression. */
type RefPath = readonly string[] | null;

export type ValueTemplate =
  | { readonly kind: 'literal'; readonly value: Scalar }
  /** The whole value is one reference: keeps the referenced value's type. */
  | { readonly kind: 'reference'; readonly path: RefPath; readonly source: string }
  /** Literal text with embedded references (strings alternate with paths). */
  | { readonly kind: 'template'; readonly parts: ReadonlyArray<string | { readonly path: RefPath }>; readonly source: string };

const REFERENCE = /\$\{([^{}]*)\}/g;
const METADATA_PATH = /^key\.metadata\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)$/;

function parsePath(expression: string): RefPath {
  const match = METADATA_PATH.exec(expression.trim());
  return match ? match[1].split('.') : null;
}

/** Precompiles a constraint value (once per snapshot). */
export function compileValue(value: Scalar): ValueTemplate {
  if (typeof value !== 'string' || !value.includes('${')) return { kind: 'literal', value };
  const parts: Array<string | { path: RefPath }> = [];
  let last = 0;
  for (const match of value.matchAll(REFERENCE)) {
    const index = match.index ?? 0;
    if (index > last) parts.push(value.slice(last, index));
    parts.push({ path: parsePath(match[1]) });
    last = index + match[0].length;
  }
  if (parts.length === 0) return { kind: 'literal', value }; // `${` without a closing brace
  if (last < value.length) parts.push(value.slice(last));
  if (parts.length === 1 && typeof parts[0] !== 'string') {
    return { kind: 'reference', path: (parts[0] as { path: RefPath }).path, source: value };
  }
  return { kind: 'template', parts, source: value };
}

/** Walks a metadata path through own properties only (no prototype lookups). */
export function lookupMetadata(metadata: unknown, path: RefPath): unknown {
  if (path === null) return undefined;
  let current = metadata;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * Resolves a value against key metadata. A whole-value reference may resolve to an array
 * (only `oneOf` makes use of that); anything else non-scalar is UNRESOLVED.
 */
export function resolveValue(template: ValueTemplate, metadata: unknown): Scalar | readonly unknown[] | Unresolved {
  switch (template.kind) {
    case 'literal':
      return template.value;
    case 'reference': {
      const value = lookupMetadata(metadata, template.path);
      return isScalar(value) || Array.isArray(value) ? value : UNRESOLVED;
    }
    case 'template': {
      let text = '';
      for (const part of template.parts) {
        if (typeof part === 'string') {
          text += part;
        } else {
          const value = lookupMetadata(metadata, part.path);
          if (!isScalar(value)) return UNRESOLVED;
          text += String(value);
        }
      }
      return text;
    }
  }
}

/** How a template reads in a message: the literal as JSON, a reference as written. */
export function describeTemplate(template: ValueTemplate): string {
  return template.kind === 'literal' ? JSON.stringify(template.value) : template.source;
}
