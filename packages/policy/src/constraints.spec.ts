import type { ParamConstraint } from '@toolgate/contracts';
import { decide } from './decide';
import { principalWith, snapshotWith } from './test-fixtures';

/** decide() for one allow rule on `svc__op` with the given constraints. */
function check(
  constraints: Record<string, ParamConstraint>,
  args: Record<string, unknown> | undefined,
  metadata: Record<string, unknown> = {},
) {
  const snapshot = snapshotWith([{ name: 'r', rules: { tools: [{ effect: 'allow', match: 'svc__op', constraints }] } }]);
  return decide(snapshot, principalWith(['r'], { metadata }), { kind: 'tool', server: 'svc', name: 'op', arguments: args });
}

const allowed = (...a: Parameters<typeof check>) => check(...a).allowed;
const reason = (...a: Parameters<typeof check>) => check(...a).reason;

describe('parameter constraints', () => {
  describe('equals', () => {
    it('compares strictly', () => {
      expect(allowed({ id: { equals: 'c_42' } }, { id: 'c_42' })).toBe(true);
      expect(allowed({ id: { equals: 'c_42' } }, { id: 'c_43' })).toBe(false);
      expect(allowed({ n: { equals: 5 } }, { n: 5 })).toBe(true);
      expect(allowed({ n: { equals: 5 } }, { n: '5' })).toBe(false);
      expect(allowed({ b: { equals: true } }, { b: true })).toBe(true);
      expect(allowed({ b: { equals: true } }, { b: 'true' })).toBe(false);
      expect(allowed({ b: { equals: true } }, { b: 1 })).toBe(false);
    });

    it('names the failed constraint and the rule', () => {
      const decision = check({ customer_id: { equals: 'c_42' } }, { customer_id: 'c_1' });
      expect(decision).toEqual({
        allowed: false,
        effect: 'deny',
        reason: 'argument "customer_id" must equal "c_42"',
        rule: { roleId: 'r_r', roleName: 'r', path: 'tools[0]' },
      });
    });
  });

  describe('metadata references', () => {
    const own = { customer_id: { equals: '${key.metadata.customer_id}' } };

    it('resolves a whole-value reference', () => {
      expect(allowed(own, { customer_id: 'c_42' }, { customer_id: 'c_42' })).toBe(true);
      expect(allowed(own, { customer_id: 'c_43' }, { customer_id: 'c_42' })).toBe(false);
      expect(reason(own, { customer_id: 'c_43' }, { customer_id: 'c_42' })).toBe('argument "customer_id" must equal "c_42"');
    });

    it('keeps the referenced value type for a whole-value reference', () => {
      const limit = { n: { equals: '${key.metadata.limit}' } };
      expect(allowed(limit, { n: 42 }, { limit: 42 })).toBe(true);
      expect(allowed(limit, { n: '42' }, { limit: 42 })).toBe(false);
      expect(allowed({ f: { equals: '${key.metadata.flag}' } }, { f: false }, { flag: false })).toBe(true);
    });

    it('substitutes embedded references as text', () => {
      const path = { path: { equals: 'tenants/${key.metadata.tenant}/data' } };
      expect(allowed(path, { path: 'tenants/t1/data' }, { tenant: 't1' })).toBe(true);
      expect(allowed(path, { path: 'tenants/t2/data' }, { tenant: 't1' })).toBe(false);
      expect(allowed(path, { path: 'tenants/7/data' }, { tenant: 7 })).toBe(true);
      const two = { id: { equals: '${key.metadata.a}-${key.metadata.b}' } };
      expect(allowed(two, { id: 'x-y' }, { a: 'x', b: 'y' })).toBe(true);
    });

    it('follows nested paths through own properties only', () => {
      const nested = { acct: { equals: '${key.metadata.billing.account}' } };
      expect(allowed(nested, { acct: 'A1' }, { billing: { account: 'A1' } })).toBe(true);
      expect(allowed(nested, { acct: 'A1' }, { billing: 'A1' })).toBe(false);
      const proto = { x: { equals: '${key.metadata.constructor}' } };
      expect(allowed(proto, { x: 'function Object() { [native code] }' }, {})).toBe(false);
    });

    it('fails, never matches literally, when a reference cannot be resolved', () => {
      const literal = '${key.metadata.customer_id}';
      expect(allowed(own, { customer_id: literal }, {})).toBe(false);
      expect(allowed(own, { customer_id: undefined }, {})).toBe(false);
      expect(allowed(own, { customer_id: null }, { customer_id: null })).toBe(false);
      expect(allowed(own, { customer_id: '[object Object]' }, { customer_id: { a: 1 } })).toBe(false);
      expect(reason(own, { customer_id: 'c_1' }, {})).toBe(
        'argument "customer_id" must equal ${key.metadata.customer_id}, which is not set on this key',
      );
      const embedded = { p: { equals: 'x/${key.metadata.t}' } };
      expect(allowed(embedded, { p: 'x/${key.metadata.t}' }, {})).toBe(false);
      expect(allowed(embedded, { p: 'x/undefined' }, {})).toBe(false);
      expect(allowed(embedded, { p: 'x/' }, { t: null })).toBe(false);
    });

    it('treats unsupported ${...} expressions as unresolvable', () => {
      expect(allowed({ x: { equals: '${key.id}' } }, { x: '${key.id}' })).toBe(false);
      expect(allowed({ x: { equals: '${key.metadata.}' } }, { x: '' }, { '': '' })).toBe(false);
    });

    it('keeps strings without a complete reference literal', () => {
      expect(allowed({ x: { equals: 'cost ${5' } }, { x: 'cost ${5' })).toBe(true);
    });
  });

  describe('oneOf', () => {
    it('accepts any listed value, strictly', () => {
      const c = { env: { oneOf: ['staging', 'dev', 3] } };
      expect(allowed(c, { env: 'dev' })).toBe(true);
      expect(allowed(c, { env: 3 })).toBe(true);
      expect(allowed(c, { env: '3' })).toBe(false);
      expect(allowed(c, { env: 'prod' })).toBe(false);
      expect(reason(c, { env: 'prod' })).toBe('argument "env" must be one of "staging", "dev", 3');
    });

    it('resolves references and skips unresolvable ones', () => {
      const c = { region: { oneOf: ['${key.metadata.home}', '${key.metadata.backup}', 'global'] } };
      expect(allowed(c, { region: 'eu' }, { home: 'eu' })).toBe(true);
      expect(allowed(c, { region: 'global' }, {})).toBe(true);
      expect(allowed(c, { region: '${key.metadata.backup}' }, { home: 'eu' })).toBe(false);
      expect(reason(c, { region: 'us' }, { home: 'eu' })).toBe(
        'argument "region" must be one of "eu", ${key.metadata.backup} (not set on this key), "global"',
      );
    });

    it('expands a whole-value reference to a metadata array', () => {
      const c = { customer_id: { oneOf: ['${key.metadata.customers}'] } };
      expect(allowed(c, { customer_id: 'c2' }, { customers: ['c1', 'c2'] })).toBe(true);
      expect(allowed(c, { customer_id: 'c3' }, { customers: ['c1', 'c2'] })).toBe(false);
      expect(allowed(c, { customer_id: 'c1' }, {})).toBe(false);
    });
  });

  describe('pattern', () => {
    it('tests the regex as given (u flag, not implicitly anchored)', () => {
      expect(allowed({ q: { pattern: '^SELECT ' } }, { q: 'SELECT 1' })).toBe(true);
      expect(allowed({ q: { pattern: '^SELECT ' } }, { q: 'DELETE FROM t' })).toBe(false);
      expect(allowed({ q: { pattern: 'abc' } }, { q: 'xxabcxx' })).toBe(true);
      expect(allowed({ q: { pattern: '^abc$' } }, { q: 'xxabcxx' })).toBe(false);
      expect(allowed({ q: { pattern: '^\\p{L}+$' } }, { q: 'héllo' })).toBe(true);
      expect(reason({ q: { pattern: '^SELECT ' } }, { q: 'DROP' })).toBe('argument "q" must match /^SELECT /');
    });

    it('requires a string', () => {
      expect(allowed({ q: { pattern: '^\\d+$' } }, { q: 123 })).toBe(false);
      expect(reason({ q: { pattern: '^\\d+$' } }, { q: 123 })).toBe('argument "q" must be a string matching /^\\d+$/');
    });

    it('is stateless across calls (no g flag)', () => {
      const snapshot = snapshotWith([
        { name: 'r', rules: { tools: [{ effect: 'allow', match: 's__t', constraints: { q: { pattern: 'a' } } }] } },
      ]);
      const request = { kind: 'tool' as const, server: 's', name: 't', arguments: { q: 'a' } };
      for (let i = 0; i < 3; i++) expect(decide(snapshot, principalWith(['r']), request).allowed).toBe(true);
    });
  });

  describe('min / max', () => {
    const c = { limit: { min: 1, max: 100 } };
    it('checks inclusive bounds', () => {
      expect(allowed(c, { limit: 1 })).toBe(true);
      expect(allowed(c, { limit: 100 })).toBe(true);
      expect(allowed(c, { limit: 50.5 })).toBe(true);
      expect(allowed(c, { limit: 0 })).toBe(false);
      expect(allowed(c, { limit: 101 })).toBe(false);
      expect(reason(c, { limit: 0 })).toBe('argument "limit" must be at least 1');
      expect(reason(c, { limit: 101 })).toBe('argument "limit" must be at most 100');
    });

    it('fails non-numbers', () => {
      for (const value of ['50', null, true, [50], { n: 50 }, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(allowed(c, { limit: value })).toBe(false);
      }
      expect(reason(c, { limit: '50' })).toBe('argument "limit" must be a number');
    });
  });

  describe('maxLength', () => {
    const c = { text: { maxLength: 3 } };
    it('measures strings in code points and arrays in items', () => {
      expect(allowed(c, { text: 'abc' })).toBe(true);
      expect(allowed(c, { text: 'abcd' })).toBe(false);
      expect(allowed(c, { text: '😀😀😀' })).toBe(true); // 6 UTF-16 units, 3 code points
      expect(allowed(c, { text: '😀😀😀😀' })).toBe(false);
      expect(allowed(c, { text: [1, 2, 3] })).toBe(true);
      expect(allowed(c, { text: [1, 2, 3, 4] })).toBe(false);
      expect(reason(c, { text: 'abcd' })).toBe('argument "text" must be at most 3 characters long');
      expect(reason(c, { text: [1, 2, 3, 4] })).toBe('argument "text" must have at most 3 items');
    });

    it('fails values without a length', () => {
      expect(allowed(c, { text: 12 })).toBe(false);
      expect(reason(c, { text: 12 })).toBe('argument "text" must be a string or an array');
    });
  });

  describe('absent arguments and required', () => {
    it('fails value conditions on an absent argument by default', () => {
      for (const c of [{ equals: 'x' }, { oneOf: ['x'] }, { pattern: 'x' }, { min: 1 }, { max: 1 }, { maxLength: 3 }]) {
        expect(allowed({ a: c }, {})).toBe(false);
        expect(allowed({ a: c }, undefined)).toBe(false);
        expect(allowed({ a: c }, { a: undefined })).toBe(false);
      }
      expect(reason({ a: { max: 1 } }, {})).toBe('argument "a" is required');
    });

    it('allows absence with required: false, but still checks a present value', () => {
      const c = { limit: { max: 10, required: false } };
      expect(allowed(c, {})).toBe(true);
      expect(allowed(c, undefined)).toBe(true);
      expect(allowed(c, { limit: 5 })).toBe(true);
      expect(allowed(c, { limit: 50 })).toBe(false);
      expect(allowed(c, { limit: null })).toBe(false); // null is present
    });

    it('required: true demands presence', () => {
      expect(allowed({ a: { required: true } }, { a: 'anything' })).toBe(true);
      expect(allowed({ a: { required: true } }, { a: null })).toBe(true);
      expect(allowed({ a: { required: true } }, {})).toBe(false);
      expect(allowed({ a: { required: false } }, {})).toBe(true);
    });

    it('does not see inherited properties as arguments', () => {
      expect(allowed({ constructor: { required: true } }, {})).toBe(false);
      expect(allowed({ toString: { required: true } }, { other: 1 })).toBe(false);
    });
  });

  it('checks every constrained argument and reports the first that fails', () => {
    const c = { a: { equals: 1 }, b: { max: 5 }, c: { pattern: '^x' } };
    expect(allowed(c, { a: 1, b: 5, c: 'xy' })).toBe(true);
    expect(reason(c, { a: 1, b: 9, c: 'y' })).toBe('argument "b" must be at most 5');
    expect(allowed(c, { a: 1, b: 5, c: 'xy', extra: 'ignored' })).toBe(true);
  });

  describe('several matching allow rules', () => {
    const snapshot = snapshotWith([
      {
        name: 'support',
        rules: {
          tools: [
            { effect: 'allow', match: 'crm__get_*', constraints: { customer_id: { equals: '${key.metadata.customer_id}' } } },
            { effect: 'allow', match: 'crm__get_customer', constraints: { customer_id: { oneOf: ['demo_1', 'demo_2'] } } },
          ],
        },
      },
      { name: 'viewer', rules: { tools: [{ effect: 'allow', match: 'crm__get_order', constraints: { limit: { max: 10 } } }] } },
      { name: 'block', rules: { tools: [{ effect: 'deny', match: 'crm__get_customer', constraints: { customer_id: { equals: 'x' } } }] } },
    ]);
    const request = (args: Record<string, unknown>) => ({ kind: 'tool' as const, server: 'crm', name: 'get_customer', arguments: args });
    const p = principalWith(['support'], { metadata: { customer_id: 'c_42' } });

    it('allows if any of them is satisfied', () => {
      expect(decide(snapshot, p, request({ customer_id: 'c_42' }))).toMatchObject({ allowed: true, rule: { path: 'tools[0]' } });
      expect(decide(snapshot, p, request({ customer_id: 'demo_2' }))).toMatchObject({ allowed: true, rule: { path: 'tools[1]' } });
    });

    it('denies naming the first failed constraint when none is satisfied', () => {
      expect(decide(snapshot, p, request({ customer_id: 'c_7' }))).toEqual({
        allowed: false,
        effect: 'deny',
        reason: 'argument "customer_id" must equal "c_42"',
        rule: { roleId: 'r_support', roleName: 'support', path: 'tools[0]' },
      });
    });

    it('satisfies constraints across roles', () => {
      const both = principalWith(['support', 'viewer'], { metadata: { customer_id: 'c_42' } });
      const order = { kind: 'tool' as const, server: 'crm', name: 'get_order', arguments: { limit: 5 } };
      expect(decide(snapshot, both, order)).toMatchObject({ allowed: true, rule: { roleName: 'viewer' } });
    });

    it('ignores constraints on deny rules: they deny whatever they match', () => {
      const denied = decide(
        snapshot,
        principalWith(['support', 'block'], { metadata: { customer_id: 'c_42' } }),
        request({ customer_id: 'c_42' }),
      );
      expect(denied).toMatchObject({ allowed: false, rule: { roleName: 'block', path: 'tools[0]' } });
    });
  });
});
