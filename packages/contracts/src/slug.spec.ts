import { OrgSlug, Slug, slugify } from './slug';

const messages = (r: { error?: { issues: { message: string }[] } }) => (r.error?.issues ?? []).map((i) => i.message);

describe('Slug', () => {
  it('accepts lowercase letters, digits and single hyphens', () => {
    for (const s of ['ab', 'acme-2', 'a'.repeat(40)]) expect(Slug.safeParse(s).success).toBe(true);
  });

  it.each([
    ['Acme', 'must be lowercase letters, digits and single hyphens, starting and ending with a letter or digit'],
    ['-acme', 'must be lowercase letters, digits and single hyphens, starting and ending with a letter or digit'],
    ['acme-', 'must be lowercase letters, digits and single hyphens, starting and ending with a letter or digit'],
    ['ac--me', 'must not contain consecutive hyphens'],
    ['a', 'must be at least 2 characters'],
    ['a'.repeat(41), 'must be at most 40 characters'],
  ])('refuses %j: %s', (s, message) => {
    expect(messages(Slug.safeParse(s))).toEqual([message]);
  });
});

describe('OrgSlug', () => {
  it('also refuses slugs that clash with routes', () => {
    expect(messages(OrgSlug.safeParse('settings'))).toEqual(['is reserved']);
    expect(OrgSlug.safeParse('acme').success).toBe(true);
  });
});

describe('slugify', () => {
  it('suggests a valid slug from a name', () => {
    expect(slugify('  My Server!  ')).toBe('my-server');
    expect(slugify('Café -- Crème')).toBe('cafe-creme');
    const long = slugify(`${'a'.repeat(39)} b`);
    expect(long).toBe('a'.repeat(39));
    expect(Slug.safeParse(long).success).toBe(true);
  });
});
