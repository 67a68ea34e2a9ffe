import { readFileSync } from 'node:fs';
import { parseCommand } from './args';
import { configFile } from '../config-dir';
import { removeConfig, writeConfig } from './config-file';
import { CliError, EXIT, usageError } from '../exit-codes';
import { ApiClient } from './http';
import type { Output } from './output';
import { table } from './output';
import { listOrgs, openSession, type OrgSummary, orgPath } from './session';

export const LOGIN_HELP = `toolgate login --api URL [--token-env NAME] [--org SLUG]
  Checks a management token (tgm_…) against the API and stores the API URL and token in
  the CLI's config.json ($XDG_CONFIG_HOME/toolgate on Linux; mode 0600). The token is read from the environment
  variable NAME, or else from stdin (never from the command line, where \`ps\` would show it):
    toolgate login --api https://api.example.com < token.txt
  A service account token is bound to one org, which login finds; --org SLUG is stored with the login.

toolgate logout
  Forgets the stored login.

toolgate orgs
  Lists the organisations the token can act on.`;

/** `toolgate login`: verify the token with a cheap read, then store it. */
export async function login(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseCommand('login', args, { api: { type: 'string' }, 'token-env': { type: 'string' } });
  const base = values.api ?? env.TOOLGATE_API;
  if (!base) throw usageError('login needs --api URL (the control plane, e.g. http://127.0.0.1:4000)');
  if (!/^https?:\/\/[^/]+/.test(base)) throw usageError(`--api must be an http(s) URL, got "${base}"`);
  const token = readToken(values['token-env'], env);
  if (!token.startsWith('tgm_')) throw usageError('expected a management token (tgm_…); create one under Settings → Tokens');

  const api = new ApiClient(base, token);
  const org = values.org;
  let orgs: OrgSummary[];
  if (org) orgs = [await api.get<OrgSummary>(orgPath(org))];
  else orgs = await listOrgs(api);
  const file = writeConfig({ api: base, token, ...(org ? { org: orgs[0]!.slug } : {}) }, env);
  out.result({ api: base, file, orgs: orgs.map(({ id, slug, name }) => ({ id, slug, name })) }, () =>
    [`logged in to ${base} (token ${token.slice(0, 12)}…)`, `orgs: ${orgs.map((o) => o.slug).join(', ')}`, `saved to ${file}`].join('\n'),
  );
}

function readToken(tokenEnv: string | undefined, env: NodeJS.ProcessEnv): string {
  if (tokenEnv) {
    const v = env[tokenEnv]?.trim();
    if (!v) throw usageError(`environment variable ${tokenEnv} is not set`);
    return v;
  }
  if (process.stdin.isTTY) throw usageError('pipe the token on stdin, or name the variable that holds it with --token-env NAME');
  const v = readFileSync(0, 'utf8').trim();
  if (!v) throw usageError('no token on stdin');
  return v;
}

export function logout(args: string[], out: Output, env: NodeJS.ProcessEnv): void {
  parseCommand('logout', args, {});
  const file = configFile(env);
  const removed = removeConfig(env);
  out.result({ loggedOut: removed, file }, () => (removed ? `logged out (${file})` : 'not logged in'));
}

export async function orgs(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseCommand('orgs', args, {});
  const s = openSession(values.org, env);
  const items = await listOrgs(s.api);
  if (items.length === 0) throw new CliError('the token sees no organisation', EXIT.notFound, { code: 'no_org' });
  out.result({ items }, () =>
    table(
      ['SLUG', 'NAME', 'ROLE'],
      items.map((o) => [o.slug, o.name, o.role]),
    ),
  );
}
