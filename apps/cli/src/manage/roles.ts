import type { RoleView } from '@toolgate/contracts';
import { ConfigError } from '../config/errors';
import { parseCommand } from './args';
import { CliError, usageError } from '../exit-codes';
import { type Output, table } from './output';
import { readPolicyFile } from './policy-file';
import { planRoles, type RoleChange } from './role-diff';
import { openSession, orgPath, resolveOrg, type Session } from './session';

export const ROLES_HELP = `toolgate roles ls
  Lists the org's agent roles.

toolgate roles apply -f policy.yaml [--dry-run] [--prune [--force]]
  Makes the org's roles what the file says (policy as code): prints the plan (+ create,
  ~ update with the changed lines, = unchanged, - delete), then applies it. Applying the same
  file again changes nothing ("no changes"). --dry-run prints the plan only. --prune also
  deletes roles the file does not list; --force deletes them even while keys hold them.

  The file (the API's rule language; an invalid file is refused with file:line, exit 2):
    version: 1
    roles:
      developer:
        description: Coding agents
        rules:
          tools:
            - { effect: allow, match: "github__*" }
            - { effect: deny, match: "*__delete_*" }
          rateLimits:
            - { scope: key, perMinute: 120 }`;

export async function roles(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'ls':
    case 'list':
      return list(rest, out, env);
    case 'apply':
      return apply(rest, out, env);
    default:
      throw usageError(`unknown roles command "${sub ?? ''}"; one of ls, apply (see toolgate roles --help)`);
  }
}

async function list(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseCommand('roles', args, {});
  const s = openSession(values.org, env);
  const org = await resolveOrg(s);
  const { items } = await s.api.get<{ items: RoleView[] }>(orgPath(org, '/roles'));
  out.result({ org, items }, () =>
    table(
      ['NAME', 'KEYS', 'TOOL RULES', 'DESCRIPTION'],
      items.map((r) => [r.name, r.keyCount, r.rules.tools.length, r.description]),
    ),
  );
}

async function apply(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values, positionals } = parseCommand('roles', args, {
    file: { type: 'string', short: 'f' },
    'dry-run': { type: 'boolean', default: false },
    prune: { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
  });
  if (!values.file || positionals.length > 0) throw usageError('usage: toolgate roles apply -f policy.yaml [--dry-run] [--prune]');
  let desired: ReturnType<typeof readPolicyFile>;
  try {
    desired = readPolicyFile(values.file);
  } catch (e) {
    if (e instanceof ConfigError) throw usageError(`invalid policy file\n${e.message}`, { problems: e.problems });
    throw e;
  }
  const s = openSession(values.org, env);
  const org = await resolveOrg(s);
  const { items } = await s.api.get<{ items: RoleView[] }>(orgPath(org, '/roles'));
  const plan = planRoles(desired, items, values.prune!);
  const pending = plan.filter((c) => c.action !== 'unchanged');
  const dryRun = values['dry-run']!;
  if (!dryRun) await applyAll(s, org, pending, values.force!);
  out.result(
    {
      org,
      file: values.file,
      dryRun,
      changed: pending.length,
      applied: !dryRun && pending.length > 0,
      changes: plan.map((c) => ({ action: c.action, name: c.name, ...('diff' in c ? { diff: c.diff } : {}) })),
    },
    () => renderPlan(org, plan, pending.length, dryRun),
  );
}

/** Applies in plan order; a failure says how far it got (what is done stays done: re-apply to finish). */
async function applyAll(s: Session, org: string, pending: RoleChange[], force: boolean): Promise<void> {
  for (const [i, c] of pending.entries()) {
    try {
      await applyChange(s, org, c, force);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      const done = pending.slice(0, i).map((d) => `${d.action} ${d.name}`);
      throw new CliError(
        `${c.action} ${c.name} failed after ${i} of ${pending.length} changes${done.length ? ` (${done.join(', ')})` : ''}: ${e.message}`,
        e.exitCode,
        {
          ...e.details,
          applied: done,
        },
      );
    }
  }
}

/** Creates and updates go in file order; deletes come last (the plan lists them last). */
async function applyChange(s: Session, org: string, c: RoleChange, force: boolean): Promise<void> {
  if (c.action === 'create') await s.api.post(orgPath(org, '/roles'), c.after);
  else if (c.action === 'update') await s.api.put(orgPath(org, `/roles/${c.id}`), c.after);
  else if (c.action === 'delete') await s.api.delete(orgPath(org, `/roles/${c.id}`), force ? { force: true } : undefined);
}

function renderPlan(org: string, plan: RoleChange[], changed: number, dryRun: boolean): string {
  const lines = plan.map((c) => {
    if (c.action === 'create') return `+ create ${c.name}`;
    if (c.action === 'unchanged') return `= unchanged ${c.name}`;
    if (c.action === 'delete') return `- delete ${c.name}${c.keyCount ? ` (held by ${c.keyCount} key${c.keyCount > 1 ? 's' : ''})` : ''}`;
    return [`~ update ${c.name}`, ...c.diff.map((d) => `    ${d}`)].join('\n');
  });
  const summary =
    changed === 0
      ? `no changes: org ${org} matches the file`
      : dryRun
        ? `dry run: ${changed} change${changed > 1 ? 's' : ''} to org ${org}, nothing applied`
        : `applied ${changed} change${changed > 1 ? 's' : ''} to org ${org}`;
  return [...lines, summary].join('\n');
}
