import { z } from 'zod';
import { SealedSecret, SnapshotServer } from './snapshot';

/**
 * Probes: the control plane never runs tenant code, so "connect to this server and read its
 * catalogue" is a request to the data plane over Redis. The API pushes a ProbeRequest onto
 * `redisKeys.probeRequests` and waits on `redisKeys.probeReply(id)`; one gateway worker takes it,
 * answers `accepted` at once, starts the server through its own backends and sandbox, and answers
 * `result` or `error`. Both sides parse what they receive.
 */
export const PROBE_SCHEMA_VERSION = 1 as const;

export const ProbeRequest = z.object({
  schemaVersion: z.literal(PROBE_SCHEMA_VERSION),
  id: z.string().uuid(),
  orgId: z.string(),
  /** The server's stored config (disabled servers too: a probe does not look in the snapshot). */
  server: SnapshotServer,
  /** Sealed values of the secrets the server references, by name, sealed as in snapshots. */
  secrets: z.record(z.string(), SealedSecret),
  /** Epoch ms: the whole probe must be over by then; a worker drops a request taken later. */
  deadline: z.number().int().positive(),
});
export type ProbeRequest = z.infer<typeof ProbeRequest>;

/**
 * Catalogue items keep every field the server sent; only what identifies an item is required,
 * so a server with odd optional fields still probes and stored catalogues keep parsing.
 */
export const CatalogTool = z.looseObject({ name: z.string() });
export const CatalogPrompt = z.looseObject({ name: z.string() });
export const CatalogResource = z.looseObject({ uri: z.string(), name: z.string() });
export const CatalogResourceTemplate = z.looseObject({ uriTemplate: z.string(), name: z.string() });

/** What a probe learns about a server: stored on the server row and shown in the dashboard. */
export const ServerCatalog = z.object({
  protocolVersion: z.string().nullable(),
  serverInfo: z.looseObject({ name: z.string(), version: z.string() }).nullable(),
  capabilities: z.record(z.string(), z.unknown()),
  instructions: z.string().nullable(),
  tools: z.array(CatalogTool),
  prompts: z.array(CatalogPrompt),
  resources: z.array(CatalogResource),
  resourceTemplates: z.array(CatalogResourceTemplate),
});
export type ServerCatalog = z.infer<typeof ServerCatalog>;

/** Catalogues larger than this (JSON bytes) are refused, so a runaway server cannot bloat every server read. */
export const MAX_CATALOG_BYTES = 4 * 1024 * 1024;

const ReplyId = z.string().uuid();
export const ProbeReply = z.discriminatedUnion('kind', [
  /** A worker took the request; the outcome follows. */
  z.object({ kind: z.literal('accepted'), id: ReplyId, workerId: z.string() }),
  z.object({ kind: z.literal('result'), id: ReplyId, catalog: ServerCatalog }),
  /** Secret values are already redacted from the message. */
  z.object({ kind: z.literal('error'), id: ReplyId, message: z.string() }),
]);
export type ProbeReply = z.infer<typeof ProbeReply>;
