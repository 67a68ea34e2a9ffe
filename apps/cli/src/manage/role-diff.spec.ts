import type { RoleView, UpsertRole } from '@toolgate/contracts';
import { lineDiff, planRoles } from './role-diff';

const stored = (name: string, rules: Partial<RoleView['rules']>, description: string | null = null): RoleView => ({
  id: `id-${name}`,
  name,
  description,
  rules: { tools: [], prompts: [], resources: [], rateLimits: [], redact: [], ipAllow: [], ...rules },
  keyCount: 0,
  createdAt: '',
  updatedAt: '',
});
const want = (name: string, rules: object, description?: string | null) => ({ name, description, rules }) as UpsertRole;

describe('planRoles', () => {
  it('treats key order, spelled-out defaults and an empty or padded description as no change', () => {
    const current = [stored('dev', { tools: [{ effect: 'allow', match: 'a__*', constraints: { x: { max: 1, min: 0 } } }] }, 'Dev')];
    const desired = [
      want('dev', { ipAllow: [], tools: [{ constraints: { x: { min: 0, max: 1 } }, match: 'a__*', effect: 'allow' }] }, ' Dev '),
    ];
    expect(planRoles(desired, current, false)).toEqual([{ action: 'unchanged', name: 'dev', id: 'id-dev' }]);
    expect(planRoles([want('ops', {}, '')], [stored('ops', {})], false)[0]!.action).toBe('unchanged');
  });

  it('counts rule order as a change (the first match decides), and shows it as changed lines', () => {
    const a = { effect: 'allow', match: 'a__*' } as const;
    const d = { effect: 'deny', match: 'a__x' } as const;
    const [change] = planRoles([want('dev', { tools: [d, a] })], [stored('dev', { tools: [a, d] })], false);
    expect(change).toMatchObject({ action: 'update', id: 'id-dev' });
    expect(change!.action === 'update' && change!.diff.length).toBeGreaterThan(0);
  });

  it('creates what is new, and deletes what the file leaves out only with prune', () => {
    const current = [stored('old', {})];
    expect(planRoles([want('new', {})], current, false).map((c) => [c.action, c.name])).toEqual([['create', 'new']]);
    expect(planRoles([want('new', {})], current, true).map((c) => [c.action, c.name])).toEqual([
      ['create', 'new'],
      ['delete', 'old'],
    ]);
  });
});

describe('lineDiff', () => {
  it('lists removed lines before the added ones that replace them, and nothing for equal text', () => {
    expect(lineDiff('a\nb\nc', 'a\nB\nc\nd')).toEqual(['- b', '+ B', '+ d']);
    expect(lineDiff('a\nb', 'a\nb')).toEqual([]);
  });
});
