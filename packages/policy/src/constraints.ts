import type { ParamConstraint } from '@toolgate/contracts';
import { compileValue, describeTemplate, resolveValue, type Scalar, UNRESOLVED, type ValueTemplate } from './metadata-ref';

/**
 * Parameter constraints on allow rules, precompiled once per snapshot.
 *
 * Semantics (per argument; conditions are checked in this order and the first failure is reported):
 *  - presence: an absent argument (missing or `undefined`) fails if `required: true`, passes
 *    (skipping every other condition) if `required: false`, and otherwise fails whenever the
 *    constraint has any value condition — absence never slips past `equals`/`max`/... by default.
 *    A JSON `null` counts as present (and then fails every value condition).
 *  - equals: strict `===` against the (resolved) value; see metadata-ref.ts for references.
 *  - oneOf: `===` against any element; an element that is a whole-value reference to a metadata
 *    array contributes each of its elements. Unresolved elements match nothing.
 *  - pattern: the argument must be a string and `new RegExp(pattern, 'u').test(arg)` must be true.
 *    The regex is used as written — it is NOT implicitly anchored; write `^...$` for a full match.
 *    Pattern strings are not searched for metadata references.
 *  - min / max: the argument must be a finite number; bounds are inclusive.
 *  - maxLength: strings are measured in Unicode code points, arrays in elements; any other type fails.
 */

export interface CompiledParam {
  readonly name: string;
  readonly required: boolean | undefined;
  /** Whether anything besides `required` is set (decides what absence means). */
  readonly hasValueConditions: boolean;
  readonly equals: ValueTemplate | undefined;
  readonly oneOf: readonly ValueTemplate[] | undefined;
  readonly pattern: RegExp | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
  readonly maxLength: number | undefined;
}

/** Outcome of checking one argument; strings so that no allocation happens on the hot path. */
type ParamResult =
  | 'ok'
  | 'missing'
  | 'equals-unresolved'
  | 'not-equal'
  | 'not-one-of'
  | 'not-a-string'
  | 'no-pattern-match'
  | 'not-a-number'
  | 'below-min'
  | 'above-max'
  | 'no-length'
  | 'too-long';

export function compileConstraints(constraints: Readonly<Record<string, ParamConstraint>>): CompiledParam[] {
  return Object.entries(constraints).map(([name, c]) => ({
    name,
    required: c.required,
    hasValueConditions:
      c.equals !== undefined ||
      c.oneOf !== undefined ||
      c.pattern !== undefined ||
      c.min !== undefined ||
      c.max !== undefined ||
      c.maxLength !== undefined,
    equals: c.equals === undefined ? undefined : compileValue(c.equals),
    oneOf: c.oneOf?.map(compileValue),
    // No `g` flag: a global regex's `test` is stateful (lastIndex) and these are shared.
    pattern: c.pattern === undefined ? undefined : new RegExp(c.pattern, 'u'),
    min: c.min,
    max: c.max,
    maxLength: c.maxLength,
  }));
}

/** Index of the first argument that fails its constraint, or -1 when all pass. */
export function firstFailedParam(
  params: readonly CompiledParam[],
  args: Readonly<Record<string, unknown>> | undefined,
  metadata: unknown,
): number {
  for (let i = 0; i < params.length; i++) {
    if (checkParam(params[i], args, metadata) !== 'ok') return i;
  }
  return -1;
}

function argumentOf(args: Readonly<Record<string, unknown>> | undefined, name: string): unknown {
  // Own properties only: `constructor` or `__proto__` must not appear "present" via the prototype.
  return args != null && Object.hasOwn(args, name) ? args[name] : undefined;
}

function checkParam(param: CompiledParam, args: Readonly<Record<string, unknown>> | undefined, metadata: unknown): ParamResult {
  const value = argumentOf(args, param.name);
  if (value === undefined) {
    if (param.required === false) return 'ok';
    return param.required === true || param.hasValueConditions ? 'missing' : 'ok';
  }

  if (param.equals !== undefined) {
    const expected = resolveValue(param.equals, metadata);
    if (expected === UNRESOLVED || Array.isArray(expected)) return 'equals-unresolved';
    if (value !== expected) return 'not-equal';
  }

  if (param.oneOf !== undefined && !matchesOneOf(param.oneOf, value, metadata)) return 'not-one-of';

  if (param.pattern !== undefined) {
    if (typeof value !== 'string') return 'not-a-string';
    if (!param.pattern.test(value)) return 'no-pattern-match';
  }

  if (param.min !== undefined || param.max !== undefined) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return 'not-a-number';
    if (param.min !== undefined && value < param.min) return 'below-min';
    if (param.max !== undefined && value > param.max) return 'above-max';
  }

  if (param.maxLength !== undefined) {
    if (typeof value === 'string') {
      if (codePointLengthExceeds(value, param.maxLength)) return 'too-long';
    } else if (Array.isArray(value)) {
      if (value.length > param.maxLength) return 'too-long';
    } else {
      return 'no-length';
    }
  }

  return 'ok';
}

function matchesOneOf(options: readonly ValueTemplate[], value: unknown, metadata: unknown): boolean {
  for (const option of options) {
    const candidate = resolveValue(option, metadata);
    if (candidate === UNRESOLVED) continue;
    if (Array.isArray(candidate) ? candidate.includes(value) : candidate === value) return true;
  }
  return false;
}

/** True if `text` has more than `limit` code points, without allocating. */
function codePointLengthExceeds(text: string, limit: number): boolean {
  if (text.length <= limit) return false; // code points never outnumber code units
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is a single code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    if (++count > limit) return true;
  }
  return false;
}

/**
 * The human-readable reason an argument failed, e.g. `argument "customer_id" must equal "c_42"`.
 * Only called on the deny path, so it may allocate freely.
 */
export function explainFailedParam(param: CompiledParam, args: Readonly<Record<string, unknown>> | undefined, metadata: unknown): string {
  const arg = `argument ${JSON.stringify(param.name)}`;
  const result = checkParam(param, args, metadata);
  switch (result) {
    case 'ok':
      return `${arg} satisfies its constraint`; // unreachable when used as intended
    case 'missing':
      return `${arg} is required`;
    case 'equals-unresolved':
      return `${arg} must equal ${describeTemplate(param.equals as ValueTemplate)}, which is not set on this key`;
    case 'not-equal':
      return `${arg} must equal ${JSON.stringify(resolveValue(param.equals as ValueTemplate, metadata))}`;
    case 'not-one-of':
      return `${arg} must be one of ${describeOptions(param.oneOf ?? [], metadata)}`;
    case 'not-a-string':
      return `${arg} must be a string matching /${param.pattern?.source}/`;
    case 'no-pattern-match':
      return `${arg} must match /${param.pattern?.source}/`;
    case 'not-a-number':
      return `${arg} must be a number`;
    case 'below-min':
      return `${arg} must be at least ${param.min}`;
    case 'above-max':
      return `${arg} must be at most ${param.max}`;
    case 'no-length':
      return `${arg} must be a string or an array`;
    case 'too-long':
      return typeof argumentOf(args, param.name) === 'string'
        ? `${arg} must be at most ${param.maxLength} characters long`
        : `${arg} must have at most ${param.maxLength} items`;
  }
}

const MAX_OPTIONS_SHOWN = 10;

function describeOptions(options: readonly ValueTemplate[], metadata: unknown): string {
  const shown: string[] = [];
  for (const option of options) {
    const resolved = resolveValue(option, metadata);
    if (resolved === UNRESOLVED) shown.push(`${describeTemplate(option)} (not set on this key)`);
    else if (Array.isArray(resolved)) for (const item of resolved) shown.push(JSON.stringify(item));
    else shown.push(JSON.stringify(resolved as Scalar));
  }
  if (shown.length === 0) return '(nothing)';
  // A metadata array may be long; the message only needs to show the shape of the rule.
  return shown.length > MAX_OPTIONS_SHOWN
    ? `${shown.slice(0, MAX_OPTIONS_SHOWN).join(', ')}, ... (${shown.length - MAX_OPTIONS_SHOWN} more)`
    : shown.join(', ');
}
