import type { KeyView, KeyWithSecret, RoleView } from '@toolgate/contracts';
import { onePositional, pairs, parseCommand } from './args';
import { notFound, usageError } from '../exit-codes';
import { type Output, table } from './output';
import { openSession, orgPath, resolveOrg, type Session } from './session';

export const KEYS_HELP = `toolgate keys ls [--status active|expired|revoked|all]
  Lists agent API keys (never their secrets).

toolgate keys create NAME [--role ROLE]... [--metadata NAME=VALUE]... [--expires-in-days N]
  Creates an agent key holding the named roles. The secret (tg_…) is printed once: store it now.

toolgate keys rotate KEY [--expires-in-days N]
  Issues a new secret for the key and revokes the old one; the new secret is printed once.

toolgate keys revoke KEY
  Revokes the key; agents using it are refused from their next request.

KEY is a key's id, its prefix (tg_1a2b3c4d) or its name (when one active key has it).`;

export async function keys(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'ls':
    case 'list':
      return list(rest, out, env);
    case 'create':
      return create(rest, out, env);
    case 'rotate':
      return rotate(rest, out, env);
    case 'revoke':
      return revoke(rest, out, env);
    default:
      throw usageError(`unknown keys command "${sub ?? ''}"; one of ls, create, rotate, revoke (see toolgate keys --help)`);
  }
}

async function list(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseCommand('keys', args, { status: { type: 'string' } });
  const s = openSession(values.org, env);
  const org = await resolveOrg(s);
  const { items } = await s.api.get<{ items: KeyView[] }>(orgPath(org, '/keys'), { status: values.status });
  out.result({ org, items }, () =>
    table(
      ['NAME', 'PREFIX', 'STATUS', 'ROLES', 'EXPIRES', 'LAST USED'],
      items.map((k) => [k.name, k.prefix, k.status, k.roles.map((r) => r.name).join(','), k.expiresAt, k.lastUsedAt]),
    ),
  );
}

async function create(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values, positionals } = parseCommand('keys', args, {
    role: { type: 'string', multiple: true },
    metadata: { type: 'string', multiple: true },
    'expires-in-days': { type: 'string' },
  });
  const name = onePositional(positionals, 'one key name', 'toolgate keys create NAME [--role ROLE]...');
  const metadata = pairs('metadata', values.metadata);
  const expiresInDays = days(values['expires-in-days']);
  const s = openSession(values.org, env);
  const org = await resolveOrg(s);
  const roleIds = await roleIdsByName(s, org, values.role ?? []);
  const created = await s.api.post<KeyWithSecret>(orgPath(org, '/keys'), { name, roleIds, metadata, expiresInDays });
  showSecret(out, created, `created key ${created.name} (${created.prefix})`);
}

async function rotate(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values, positionals } = parseCommand('keys', args, { 'expires-in-days': { type: 'string' } });
  const ref = onePositional(positionals, 'one key', 'toolgate keys rotate KEY');
  const expiresInDays = days(values['expires-in-days']);
  const s = openSession(values.org, env);
  const org = await resolveOrg(s);
  const key = await findKey(s, org, ref);
  const rotated = await s.api.post<KeyWithSecret>(orgPath(org, `/keys/${key.id}/rotate`), { expiresInDays });
  showSecret(out, rotated, `rotated key ${rotated.name}: ${key.prefix} is revoked, ${rotated.prefix} replaces it`);
}

async function revoke(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values, positionals } = parseCommand('keys', args, {});
  const ref = onePositional(positionals, 'one key', 'toolgate keys revoke KEY');
  const s = openSession(values.org, env);
  const org = await resolveOrg(s);
  const key = await findKey(s, org, ref);
  await s.api.delete(orgPath(org, `/keys/${key.id}`));
  out.result({ revoked: { id: key.id, name: key.name, prefix: key.prefix } }, () => `revoked key ${key.name} (${key.prefix})`);
}

/** The secret goes to stdout (to be captured), the warning to stderr. */
function showSecret(out: Output, k: KeyWithSecret, headline: string): void {
  out.result(k, () => `${headline}\n${k.key}`);
  if (!out.json) out.note('This secret is shown once only: store it now (e.g. in your agent host or secret manager).');
}

function days(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw usageError(`--expires-in-days must be a whole number of days, got "${v}"`);
  return n;
}

async function roleIdsByName(s: Session, org: string, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const { items } = await s.api.get<{ items: RoleView[] }>(orgPath(org, '/roles'));
  return names.map((n) => {
    const role = items.find((r) => r.name === n);
    if (!role) throw notFound(`no role "${n}" in org ${org} (roles: ${items.map((r) => r.name).join(', ') || 'none'})`);
    return role.id;
  });
}

/** By id, prefix, or the name of the one non-revoked key carrying it. */
async function findKey(s: Session, org: string, ref: string): Promise<KeyView> {
  const { items } = await s.api.get<{ items: KeyView[] }>(orgPath(org, '/keys'), { status: 'all' });
  const exact = items.find((k) => k.id === ref.toLowerCase() || k.prefix === ref);
  if (exact) return exact;
  const named = items.filter((k) => k.name === ref && k.status !== 'revoked');
  if (named.length === 1) return named[0]!;
  if (named.length > 1)
    throw usageError(`${named.length} keys are named "${ref}"; use the prefix: ${named.map((k) => k.prefix).join(', ')}`);
  throw notFound(`no key "${ref}" in org ${org}`);
}
