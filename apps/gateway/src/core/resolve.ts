import type { SnapshotServer } from '@toolgate/contracts';
import type { RequestKind } from '@toolgate/policy';
import type { CallRecord } from './call-record';
import type { Caller } from './caller';
import type { Catalog } from './catalog';
import { RpcCode, RpcError } from './jsonrpc';
import { exposedName, findExposed, splitExposed, splitUri } from './naming';
import type { SessionState } from './sessions';

/** Resolve what a call names into the server and the upstream's own name. */
export async function resolveTarget(
  catalog: Catalog,
  caller: Caller,
  session: SessionState,
  kind: RequestKind,
  name: string,
  record: CallRecord,
): Promise<{ server: SnapshotServer; name: string }> {
  const { snapshot } = caller;
  if (caller.scope) {
    const server = snapshot.servers.find((s) => s.slug === caller.scope);
    if (!server) throw new RpcError(RpcCode.InvalidParams, `Unknown server: ${caller.scope}`);
    return { server, name };
  }
  if (kind === 'resource') {
    const parts = splitUri(name);
    const server = parts && snapshot.servers.find((s) => s.slug === parts.server);
    if (!parts || !server) throw new RpcError(RpcCode.ResourceNotFound, `Resource not found: ${name} (expected tg://{server}/{uri})`);
    return { server, name: parts.uri };
  }
  const parts = splitExposed(name);
  const server = parts && snapshot.servers.find((s) => s.slug === parts.server);
  if (!parts || !server) throw new RpcError(RpcCode.InvalidParams, `Unknown ${kind}: ${name} (expected {server}__{name})`);
  if (exposedName(server.slug, parts.rest) === name) return { server, name: parts.rest };
  // A sanitised or hashed name: find the original in the server's catalogue. Should that fail,
  // the record names the server, so its error is redacted with the server's secrets.
  record.server = server;
  const items = await catalog.upstream(caller, session, server, kind === 'tool' ? 'tools/list' : 'prompts/list');
  const match = findExposed(server.slug, items, name);
  if (!match) throw new RpcError(RpcCode.InvalidParams, `Unknown ${kind}: ${name}`);
  return { server, name: String(match.name) };
}
