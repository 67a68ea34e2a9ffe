import { makeRedactor } from './redact';

describe('makeRedactor', () => {
  it('replaces injected secret values anywhere in a JSON value, longest first', () => {
    const r = makeRedactor(['s3cr3t-token', 's3cr3t'], []);
    const input = { content: [{ type: 'text', text: 'TOKEN=s3cr3t-token and s3cr3t' }], n: 1 };
    expect(r(input)).toEqual({ content: [{ type: 'text', text: 'TOKEN=[REDACTED:secret] and [REDACTED:secret]' }], n: 1 });
    expect(input.content[0]!.text).toBe('TOKEN=s3cr3t-token and s3cr3t');
  });

  it('applies role patterns after secrets and treats regex specials in secrets literally', () => {
    const r = makeRedactor(['a.b*c'], [{ name: 'email', regex: /[\w.]+@[\w.]+/gu, replacement: '[REDACTED:email]' }]);
    expect(r('x a.b*c y axbbc bob@example.com')).toBe('x [REDACTED:secret] y axbbc [REDACTED:email]');
  });

  it('returns the very same object when nothing matches', () => {
    const r = makeRedactor(['secret-value'], [{ name: 'n', regex: /\d{16}/gu, replacement: '#' }]);
    const clean = { a: ['x', { b: 'y' }] };
    expect(r(clean)).toBe(clean);
  });

  it('ignores very short secrets', () => {
    expect(makeRedactor(['ab'], [])('abc')).toBe('abc');
  });
});
