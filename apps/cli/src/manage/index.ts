import { wantsJson } from './args';
import { AUDIT_HELP, auditRemote } from './audit';
import { EXIT, type ExitCode } from '../exit-codes';
import { KEYS_HELP, keys } from './keys';
import { LOGIN_HELP, login, logout, orgs } from './login';
import { Output } from './output';
import { ROLES_HELP, roles } from './roles';
import { SERVERS_HELP, servers } from './servers';
import { USAGE_HELP, usage } from './usage';

type Command = (args: string[], out: Output, env: NodeJS.ProcessEnv) => Promise<void> | void;

const COMMANDS: Record<string, { run: Command; help: string }> = {
  login: { run: login, help: LOGIN_HELP },
  logout: { run: logout, help: LOGIN_HELP },
  orgs: { run: orgs, help: LOGIN_HELP },
  servers: { run: servers, help: SERVERS_HELP },
  keys: { run: keys, help: KEYS_HELP },
  roles: { run: roles, help: ROLES_HELP },
  usage: { run: usage, help: USAGE_HELP },
  audit: { run: (args, out, env) => auditRemote(args[0] ?? '', args.slice(1), out, env), help: AUDIT_HELP },
};

export const isManageCommand = (command: string) => Object.hasOwn(COMMANDS, command);

/** Every management command shares these; `toolgate --help` prints them. */
export const MANAGE_HELP = `Managing a platform org (needs a management token, see toolgate login --help):
  toolgate login --api URL [--token-env NAME] | logout | orgs
  toolgate servers ls | add SLUG … | probe SLUG | rm SLUG
  toolgate keys ls | create NAME --role ROLE … | rotate KEY | revoke KEY
  toolgate roles ls | apply -f policy.yaml [--dry-run] [--prune]
  toolgate audit tail [--follow] [--since 1h] | export [--from T] [--to T] [-o FILE]
  toolgate usage [--month YYYY-MM] [--group-by day|key|server|tool]
  Each takes --org SLUG (or TOOLGATE_ORG; default: the token's only org), --json (one JSON
  document on stdout; errors as {"error": …}) and --help. TOOLGATE_API and TOOLGATE_TOKEN
  override the stored login.

Exit codes: 0 ok; 1 remote failure or failed check; 2 bad usage or input (also the API's
  400/409/422); 3 not logged in, token refused or not allowed (401/403); 4 not found.
`;

/** Runs a management command; a failure is reported (as JSON with --json) and becomes its exit code. */
export async function runManage(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ExitCode> {
  const entry = COMMANDS[command]!;
  const out = new Output(wantsJson(args));
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${entry.help}\n`);
    return EXIT.ok;
  }
  try {
    await entry.run(args, out, env);
    return EXIT.ok;
  } catch (e) {
    return out.error(e);
  }
}
