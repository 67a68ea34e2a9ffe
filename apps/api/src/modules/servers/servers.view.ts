import {
  type McpCatalog,
  effectiveIsolation,
  isSensitiveName,
  MASK,
  type ServerConfigView,
  type ServerHealth,
  type ServerView,
  type ValueSource,
} from '@toolgate/contracts';
import type { ServerRecord } from './servers.repository';

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
export function configView(s: ServerRecord): ServerConfigView {
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
export function serverView(s: ServerRecord, ctx: { gatewayUrl: string; orgSlug: string }): ServerView {
  const base = `${ctx.gatewayUrl.replace(/\/+$/, '')}/mcp/${ctx.orgSlug}`;
  return {
    ...configView(s),
    // The probe checked the catalogue's shape; its items' further fields are what the server listed.
    catalog: s.catalog as McpCatalog | null,
    catalogFetchedAt: s.catalogFetchedAt?.toISOString() ?? null,
    lastProbeAt: s.lastProbeAt?.toISOString() ?? null,
    lastProbeError: s.lastProbeError,
    health: healthOf(s),
    endpoints: { aggregated: base, server: `${base}/${s.slug}` },
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}
