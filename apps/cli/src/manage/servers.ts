import { CreateServerRequest, fieldErrors, type ServerView, type ValueSource } from '@toolgate/contracts';
import { onePositional, pairs, parseCommand } from './args';
import { notFound, usageError } from '../exit-codes';
import { type Output, table } from './output';
import { openSession, orgPath, resolveOrg, type Session } from './session';

export const SERVERS_HELP = `toolgate servers ls
  Lists the org's MCP servers with their transport, health and tool count.

toolgate servers add SLUG (--command CMD [--arg ARG]... | --url URL [--transport sse])
                     [--name NAME] [--description TEXT] [--tag TAG]...
                     [--env NAME=VALUE]... [--env-secret NAME=SECRET]...
                     [--header NAME=VALUE]... [--header-secret NAME=SECRET]...
                     [--network none|egress] [--isolation per-session|per-key|shared]
                     [--timeout-ms N] [--disabled]
  Registers a server: a stdio command, or a Streamable HTTP (default) or SSE URL. *-secret
  flags reference an org secret by name instead of putting the value in the config.

toolgate servers probe SLUG
  Has a gateway connect to the server and refresh its catalogue; exit 1 if it cannot.

toolgate servers rm SLUG
  Removes the server.`;

export async function servers(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'ls':
    case 'list':
      return list(rest, out, env);
    case 'add':
      return add(rest, out, env);
    case 'probe':
      return probe(rest, out, env);
    case 'rm':
    case 'remove':
      return remove(rest, out, env);
    default:
      throw usageError(`unknown servers command "${sub ?? ''}"; one of ls, add, probe, rm (see toolgate servers --help)`);
  }
}

async function list(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseCommand('servers', args, { tag: { type: 'string' } });
  const s = openSession(values.org, env);
  const org = await resolveOrg(s);
  const { items } = await s.api.get<{ items: ServerView[] }>(orgPath(org, '/servers'), { tag: values.tag });
  out.result({ org, items }, () =>
    table(
      ['SLUG', 'TRANSPORT', 'ENABLED', 'HEALTH', 'TOOLS', 'ENDPOINT'],
      items.map((v) => [v.slug, v.transport, v.enabled ? 'yes' : 'no', v.health, v.catalog?.tools.length, v.endpoints.server]),
    ),
  );
}

async function add(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values, positionals } = parseCommand('servers', args, {
    command: { type: 'string' },
    arg: { type: 'string', multiple: true },
    url: { type: 'string' },
    transport: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    tag: { type: 'string', multiple: true },
    env: { type: 'string', multiple: true },
    'env-secret': { type: 'string', multiple: true },
    header: { type: 'string', multiple: true },
    'header-secret': { type: 'string', multiple: true },
    network: { type: 'string' },
    isolation: { type: 'string' },
    'timeout-ms': { type: 'string' },
    disabled: { type: 'boolean', default: false },
  });
  const slug = onePositional(positionals, 'one server slug', 'toolgate servers add SLUG (--command CMD | --url URL)');
  if (!values.command === !values.url) throw usageError('give either --command (a stdio server) or --url (an HTTP server)');
  const env_ = valueSources(pairs('env', values.env), pairs('env-secret', values['env-secret']));
  const headers = valueSources(pairs('header', values.header), pairs('header-secret', values['header-secret']));
  const timeout = values['timeout-ms'];
  const body = {
    slug,
    name: values.name ?? slug,
    description: values.description,
    transport: values.transport ?? (values.command ? 'stdio' : 'streamable-http'),
    command: values.command,
    args: values.arg,
    url: values.url,
    env: Object.keys(env_).length ? env_ : undefined,
    headers: Object.keys(headers).length ? headers : undefined,
    tags: values.tag,
    network: values.network,
    isolation: values.isolation,
    timeoutMs: timeout === undefined ? undefined : Number(timeout),
    enabled: values.disabled ? false : undefined,
  };
  // The API's own request schema: a bad flag is refused here, with the field it maps to.
  const parsed = CreateServerRequest.safeParse(body);
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error);
    throw usageError(`invalid server:${errors.map((e) => `\n  ${e.path || '(server)'}: ${e.message}`).join('')}`, { errors });
  }
  const s = openSession(values.org, env);
  const org = await resolveOrg(s);
  const created = await s.api.post<ServerView>(orgPath(org, '/servers'), parsed.data);
  out.result(created, () => `added server ${created.slug} (${created.transport}, id ${created.id})\nendpoint: ${created.endpoints.server}`);
}

async function probe(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values, positionals } = parseCommand('servers', args, {});
  const slug = onePositional(positionals, 'one server slug', 'toolgate servers probe SLUG');
  const s = openSession(values.org, env);
  const org = await resolveOrg(s);
  const server = await findServer(s, org, slug);
  const probed = await s.api.post<ServerView>(orgPath(org, `/servers/${server.id}/probe`));
  const c = probed.catalog;
  out.result(probed, () =>
    c
      ? `${slug}: ok, ${c.serverInfo?.name ?? 'server'} ${c.serverInfo?.version ?? ''}`.trimEnd() +
        ` — ${c.tools.length} tools, ${c.prompts.length} prompts, ${c.resources.length} resources`
      : `${slug}: probed`,
  );
}

async function remove(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values, positionals } = parseCommand('servers', args, {});
  const slug = onePositional(positionals, 'one server slug', 'toolgate servers rm SLUG');
  const s = openSession(values.org, env);
  const org = await resolveOrg(s);
  const server = await findServer(s, org, slug);
  await s.api.delete(orgPath(org, `/servers/${server.id}`));
  out.result({ removed: { id: server.id, slug } }, () => `removed server ${slug}`);
}

/** Literal values and references to org secrets, as the API's ValueSource map. */
function valueSources(literal: Record<string, string>, secret: Record<string, string>): Record<string, ValueSource> {
  return {
    ...Object.fromEntries(Object.entries(literal).map(([k, value]) => [k, { value }])),
    ...Object.fromEntries(Object.entries(secret).map(([k, name]) => [k, { secret: name }])),
  };
}

/** The org's server with this slug; 404 exit code when there is none. */
async function findServer(s: Session, org: string, slug: string): Promise<ServerView> {
  const { items } = await s.api.get<{ items: ServerView[] }>(orgPath(org, '/servers'));
  const found = items.find((v) => v.slug === slug.toLowerCase());
  if (!found) throw notFound(`no server "${slug}" in org ${org}`);
  return found;
}
