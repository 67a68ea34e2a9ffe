import { redactionPatternsFor } from './redaction';
import { principalWith, snapshotWith } from './test-fixtures';

describe('redactionPatternsFor', () => {
  const snapshot = snapshotWith([
    {
      name: 'pii',
      rules: {
        redact: [
          { name: 'email', pattern: '[\\w.+-]+@[\\w-]+\\.[\\w.]+' },
          { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b', replacement: '***-**-****' },
        ],
      },
    },
    {
      name: 'tokens',
      rules: {
        redact: [
          { name: 'gh', pattern: 'ghp_[A-Za-z0-9]{36}' },
          { name: 'email', pattern: '[\\w.+-]+@[\\w-]+\\.[\\w.]+' },
        ],
      },
    },
    { name: 'none', rules: {} },
  ]);

  it('compiles the patterns of all roles with the default replacement', () => {
    const patterns = redactionPatternsFor(snapshot, principalWith(['pii', 'tokens']));
    expect(patterns.map((p) => [p.name, p.replacement])).toEqual([
      ['email', '[REDACTED:email]'],
      ['ssn', '***-**-****'],
      ['gh', '[REDACTED:gh]'],
    ]);
    for (const pattern of patterns) expect(pattern.regex.flags).toBe('gu');
  });

  it('produces regexes usable with replace, repeatedly', () => {
    const patterns = redactionPatternsFor(snapshot, principalWith(['pii']));
    const redact = (text: string) => patterns.reduce((out, p) => out.replace(p.regex, p.replacement), text);
    const text = 'mail a@b.io or c@d.org, ssn 123-45-6789';
    expect(redact(text)).toBe('mail [REDACTED:email] or [REDACTED:email], ssn ***-**-****');
    expect(redact(text)).toBe('mail [REDACTED:email] or [REDACTED:email], ssn ***-**-****');
  });

  it('caches per role combination and returns frozen lists', () => {
    const a = redactionPatternsFor(snapshot, principalWith(['pii', 'tokens']));
    const b = redactionPatternsFor(snapshot, principalWith(['pii', 'tokens', 'unknown']));
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(redactionPatternsFor(snapshot, principalWith(['tokens', 'pii']))).not.toBe(a);
    // The same compiled RegExp is shared between combinations.
    expect(redactionPatternsFor(snapshot, principalWith(['pii']))[0]?.regex).toBe(a[0]?.regex);
  });

  it('returns an empty list without patterns or roles', () => {
    expect(redactionPatternsFor(snapshot, principalWith(['none']))).toEqual([]);
    expect(redactionPatternsFor(snapshot, principalWith([]))).toEqual([]);
  });

  it('lists a role given twice once', () => {
    expect(redactionPatternsFor(snapshot, principalWith(['pii', 'pii']))).toHaveLength(2);
  });
});
