import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * The dashboard's browser bundle imports files under api/ by path; a `node:` import reached from
 * any of them (directly or through a relative import) would break that bundle.
 */
const IMPORT = /^\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^']+)'/gm;

function nodeImportsReachedFrom(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  const found: string[] = [];
  for (const [, spec] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    if (!spec) continue;
    if (spec.startsWith('node:')) found.push(`${file} imports ${spec}`);
    else if (spec.startsWith('.')) found.push(...nodeImportsReachedFrom(resolve(dirname(file), `${spec}.ts`), seen));
  }
  return found;
}

describe('api/ request and response shapes', () => {
  const files = readdirSync(__dirname).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'));

  it.each(files)('%s reaches no node: module', (f) => {
    expect(nodeImportsReachedFrom(join(__dirname, f))).toEqual([]);
  });

  it('the check sees a node: import through a relative one', () => {
    expect(nodeImportsReachedFrom(join(__dirname, '..', 'index.ts')).some((s) => s.includes('node:crypto'))).toBe(true);
  });
});
