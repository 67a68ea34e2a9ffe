import { effectiveIsolation, type ValueSource } from '@toolgate/contracts';
import { isSensitiveName, MASK } from './servers.dto';
import type { ServerRecord } from './servers.repository';

type ServerHealth = 'unknown' | 'ok' | 'error';

/**
 * Literal values of credential-looking names (`Authorization`, `X-Api-Key`, `GITHUB_TOKEN`, …)
 * are replaced by MASK; `{secret}` references and other values are shown as they are.
 */
function maskValues(map: Record<string, ValueSource>): Record<string, ValueSource> {
  return Object.fromEntries(Object.entries(map).map(([name, v]) => [name, 'value' in v && isSensitiveName(name) ? { value: MASK } : v]));
}

/** Derived from the last probe: never probed, last probe succeeded, last probe failed. */
function healthOf(s: Pick<ServerRecord, 'lastProbeAt' | 'lastProbeError'>): ServerHealth {
  if (!s.lastProbeAt) return 'unknown';
  return s.lastProbeError ? 'error' : 'ok';
}

/** The configuration part of a server, masked: what the activity log records as before/after. */
export function configView(s: ServerRecord) {
  return {
    id: s.id,
    slug: s.slug,
    name: s.name,
    description: s.description,
    transport: s.transport,
    command: s.command,
    args: s.args,
    network: s.network,
    /** What the gateway runs with: the admin's choice or the transport's default. */
    isolation: effectiveIsolation(s),
    url: s.url,
    headers: maskValues(s.headers),
    env: maskValues(s.env),
    enabled: s.enabled,
    tags: s.tags,
    timeoutMs: s.timeoutMs,
  };
}

/** The API's view of a server: configuration, catalog, probe state and the gateway endpoints. */
export function serverView(s: ServerRecord, ctx: { gatewayUrl: string; orgSlug: string }) {
  const base = `${ctx.gatewayUrl.replace(/\/+$/, '')}/mcp/${ctx.orgSlug}`;
  return {
    ...configView(s),
    catalog: s.catalog,
    catalogFetchedAt: s.catalogFetchedAt,
    lastProbeAt: s.lastProbeAt,
    lastProbeError: s.lastProbeError,
    health: healthOf(s),
    endpoints: { aggregated: base, server: `${base}/${s.slug}` },
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}
