import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { accessNeeded, landingPath, type MemberRole, mayOpen } from './access';

const ORG_APP = path.resolve(__dirname, '../app/o/[org]');

/** Every page under /o/[org] with a sample path (`[id]` → `x1`) and the rule its own code enforces. */
function pages(): Array<{ file: string; orgPath: string; pageRule: string | null }> {
  const out: Array<{ file: string; orgPath: string; pageRule: string | null }> = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name === 'page.tsx') {
        // Route groups such as `(list)` are not part of the URL.
        const rel = path
          .relative(ORG_APP, dir)
          .split(path.sep)
          .filter((seg) => seg && !/^\(.*\)$/.test(seg));
        const orgPath = rel.length ? `/${rel.map((s) => (s.startsWith('[') ? 'x1' : s)).join('/')}` : '';
        const rule = /!can\.(read|manage|billing)\([^)]*\)\)\s*forbidden\(\)/.exec(readFileSync(full, 'utf8'));
        out.push({ file: path.relative(ORG_APP, full), orgPath, pageRule: rule?.[1] ?? null });
      }
    }
  };
  walk(ORG_APP);
  return out;
}

describe('page access rules', () => {
  it('match what each page enforces itself, for every page under /o/[org]', () => {
    const all = pages();
    expect(all.length).toBeGreaterThanOrEqual(18);
    const mismatches = all.filter((p) => accessNeeded(p.orgPath) !== p.pageRule);
    expect(mismatches.map((p) => `${p.file}: layout ${accessNeeded(p.orgPath)}, page ${p.pageRule}`)).toEqual([]);
  });

  it.each<[MemberRole, string, boolean]>([
    ['billing', '/o/acme/servers/1f/edit', false],
    ['billing', '/o/acme/servers', false],
    ['billing', '/o/acme/billing', true],
    ['billing', '/o/acme/usage?period=24h', true],
    ['billing', '/o/acme', true],
    ['member', '/o/acme/servers/1f', true],
    ['member', '/o/acme/servers/1f/edit', false],
    ['member', '/o/acme/servers/new?from=x', false],
    ['member', '/o/acme/servers/import', false],
    ['admin', '/o/acme/servers/import', true],
    ['billing', '/o/acme/webhooks', true],
    ['member', '/o/acme/webhooks', true],
    ['member', '/o/acme/billing', false],
    ['admin', '/o/acme/activity', true],
    ['admin', '/o/acme/tokens', true],
    ['member', '/o/acme/tokens', false],
    ['admin', '/o/acme/billing/', false],
    ['owner', '/o/acme/billing', true],
    // A server whose slug is "new-thing" is read-level, not the registration page.
    ['member', '/o/acme/servers/new-thing', true],
    // Not an org page: nothing to decide here.
    ['billing', '/orgs', true],
    ['billing', '', true],
  ])('%s on %s → %s', (role, p, ok) => {
    expect(mayOpen(role, p)).toBe(ok);
  });
});

describe('landingPath', () => {
  it.each<[MemberRole, string]>([
    ['billing', '/billing'],
    ['owner', ''],
    ['admin', ''],
    ['member', ''],
  ])('%s lands on /o/acme%s', (role, p) => {
    expect(landingPath(role)).toBe(p);
    // Wherever a role lands, it may open it.
    expect(mayOpen(role, `/o/acme${p}`)).toBe(true);
  });
});
