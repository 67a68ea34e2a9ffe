import { compileGlob, globPattern, patternsIntersect } from './glob';
import { templatePattern } from './uri-template';

const matches = (glob: string, subject: string) => compileGlob(glob)(subject);

describe('compileGlob', () => {
  it('matches literals exactly and case-sensitively', () => {
    expect(matches('github__list_issues', 'github__list_issues')).toBe(true);
    expect(matches('github__list_issues', 'github__list_issue')).toBe(false);
    expect(matches('github__list_issues', 'github__list_issuesX')).toBe(false);
    expect(matches('github__list_issues', 'GitHub__list_issues')).toBe(false);
  });

  it('is anchored at both ends', () => {
    expect(matches('list', 'github__list_issues')).toBe(false);
    expect(matches('github__*', 'x_github__list')).toBe(false);
    expect(matches('*__list', 'github__list_all')).toBe(false);
  });

  it('lets * match any run of characters, including none', () => {
    expect(matches('*', '')).toBe(true);
    expect(matches('*', 'anything at all')).toBe(true);
    expect(matches('github__*', 'github__')).toBe(true);
    expect(matches('github__*', 'github__list_issues')).toBe(true);
    expect(matches('*__read_file', 'fs__read_file')).toBe(true);
    expect(matches('*__read_file', 'fs__read_files')).toBe(false);
    expect(matches('fs__*_file', 'fs___file')).toBe(true);
    expect(matches('fs__*_file', 'fs__file')).toBe(false); // prefix and suffix must not overlap
  });

  it('supports several stars', () => {
    expect(matches('*__read_*', 'fs__read_file')).toBe(true);
    expect(matches('*__read_*', 'fs__write_file')).toBe(false);
    expect(matches('a*b*c', 'abc')).toBe(true);
    expect(matches('a*b*c', 'aXXbYYc')).toBe(true);
    expect(matches('a*b*c', 'aXXcYYb')).toBe(false);
    expect(matches('*a*a*a*', 'banana')).toBe(true);
    expect(matches('*a*a*a*a*', 'banana')).toBe(false);
    expect(matches('a**b', 'ab')).toBe(true);
    expect(matches('a**b', 'aZZb')).toBe(true);
    expect(matches('**', '')).toBe(true);
  });

  it('lets ? match exactly one character', () => {
    expect(matches('db?__query', 'db1__query')).toBe(true);
    expect(matches('db?__query', 'db__query')).toBe(false);
    expect(matches('db?__query', 'db12__query')).toBe(false);
    expect(matches('???', 'abc')).toBe(true);
    expect(matches('???', 'ab')).toBe(false);
    expect(matches('?*', '')).toBe(false);
    expect(matches('?*', 'x')).toBe(true);
    expect(matches('*?', 'xy')).toBe(true);
    expect(matches('a?c*', 'abcdef')).toBe(true);
    expect(matches('*b?d', 'abcd')).toBe(true);
    expect(matches('*b?d', 'abd')).toBe(false);
  });

  it('treats regex metacharacters as literals', () => {
    expect(matches('a.b', 'a.b')).toBe(true);
    expect(matches('a.b', 'axb')).toBe(false);
    expect(matches('file:///repo/*.md', 'file:///repo/README.md')).toBe(true);
    expect(matches('file:///repo/*.md', 'file:///repo/READMExmd')).toBe(false);
    for (const literal of ['(a)', '[ab]', 'a+', 'a{2}', '^a$', 'a|b', 'a\\d', '$1', 'a/b']) {
      expect(matches(literal, literal)).toBe(true);
    }
    expect(matches('[ab]', 'a')).toBe(false);
    expect(matches('a+', 'aa')).toBe(false);
    expect(matches('a|b', 'a')).toBe(false);
    expect(matches('^a$', 'a')).toBe(false);
    expect(matches('(a)*', '(a)xyz')).toBe(true);
    expect(matches('(a)*', 'a')).toBe(false);
    expect(matches('x.?y', 'x.zy')).toBe(true);
    expect(matches('x.?y', 'xazy')).toBe(false);
  });

  it('does not let a wildcard match across a newline any differently', () => {
    expect(matches('a*b', 'a\nb')).toBe(true);
    expect(matches('a?b', 'a\nb')).toBe(true);
  });

  it('stays fast on adversarial input (no regex backtracking blow-up)', () => {
    const glob = '*a*a*a*a*a*a*a*a*b';
    const subject = 'a'.repeat(5_000);
    const started = performance.now();
    expect(matches(glob, subject)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('patternsIntersect (globs against URI templates)', () => {
  const meet = (glob: string, template: string) => patternsIntersect(globPattern(glob), templatePattern(template));

  it('finds a URI both match, with expressions standing for any run', () => {
    expect(meet('*', 'nm://items/{id}')).toBe(true);
    expect(meet('nm://items/*', 'nm://items/{id}')).toBe(true);
    expect(meet('nm://items/42', 'nm://items/{id}')).toBe(true);
    expect(meet('nm://*/42', 'nm://{kind}/{id}')).toBe(true);
    expect(meet('*.md', 'file:///docs/{+path}')).toBe(true);
    expect(meet('nm://items/??', 'nm://items/{id}')).toBe(true);
    expect(meet('nm://items/?', 'nm://items/')).toBe(false);
  });

  it('refuses when no URI can match both', () => {
    expect(meet('nm://secret/*', 'nm://items/{id}')).toBe(false);
    expect(meet('other://*', 'nm://items/{id}')).toBe(false);
    expect(meet('*.md', 'nm://items/{id}.json')).toBe(false);
    expect(meet('nm://items', 'nm://items/{id}')).toBe(false);
  });

  it('reads a template literally: glob characters in it are characters, an open brace runs to the end', () => {
    expect(meet('nm://a*', 'nm://a?b')).toBe(true);
    expect(meet('nm://ab', 'nm://a?')).toBe(false);
    expect(meet('nm://x/*', 'nm://x/{unterminated')).toBe(true);
  });

  it('stays cheap on a huge template (its tail counts as anything)', () => {
    const huge = `nm://${'a'.repeat(200_000)}`;
    const started = performance.now();
    expect(meet('nm://a*', huge)).toBe(true);
    expect(meet('nm://b*', huge)).toBe(false);
    expect(performance.now() - started).toBeLessThan(200);
  });
});
