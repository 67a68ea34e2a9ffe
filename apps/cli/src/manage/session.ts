import { ApiClient } from './http';
import { type CliConfig, readConfig } from './config-file';
import { CliError, EXIT, usageError } from '../exit-codes';

/** An API client, and the org the command acts on once resolved. */
export interface Session {
  api: ApiClient;
  config: CliConfig | null;
  orgFlag: string | undefined;
  env: NodeJS.ProcessEnv;
}

/**
 * The API and token to use: TOOLGATE_API / TOOLGATE_TOKEN override what `toolgate login`
 * stored, so CI needs no config file.
 */
export function openSession(orgFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): Session {
  const config = readConfig(env);
  const base = env.TOOLGATE_API || config?.api;
  const token = env.TOOLGATE_TOKEN || config?.token;
  if (!base || !token) {
    throw new CliError('not logged in: run `toolgate login --api URL`, or set TOOLGATE_API and TOOLGATE_TOKEN', EXIT.auth, {
      code: 'not_logged_in',
    });
  }
  return { api: new ApiClient(base, token), config, orgFlag, env };
}

export interface OrgSummary {
  id: string;
  slug: string;
  name: string;
  role?: string;
}

/**
 * The org a command acts on: `--org`, else TOOLGATE_ORG, else the one stored at login, else the
 * token's only org (a service account's is the one it is bound to).
 */
export async function resolveOrg(s: Session): Promise<string> {
  const named = s.orgFlag || s.env.TOOLGATE_ORG || s.config?.org;
  if (named) return named;
  const orgs = await listOrgs(s.api);
  if (orgs.length === 1) return orgs[0]!.slug;
  if (orgs.length === 0) throw new CliError('the token sees no organisation', EXIT.notFound, { code: 'no_org' });
  throw usageError(
    `the token sees ${orgs.length} organisations (${orgs
      .map((o) => o.slug)
      .sort()
      .join(', ')}); pick one with --org SLUG`,
  );
}

/** The orgs the token may see; a service account (no person behind it) sees the one org it is bound to. */
export async function listOrgs(api: ApiClient): Promise<OrgSummary[]> {
  try {
    return (await api.get<{ items: OrgSummary[] }>('/v1/orgs')).items;
  } catch (e) {
    if (!(e instanceof CliError && e.details.code === 'person_required')) throw e;
  }
  const token = await api.get<{ org: { slug: string } }>('/v1/tokens/current');
  return [await api.get<OrgSummary>(orgPath(token.org.slug))];
}

/** `/v1/orgs/:org` + rest, with the org escaped. */
export const orgPath = (org: string, rest = '') => `/v1/orgs/${encodeURIComponent(org)}${rest}`;
