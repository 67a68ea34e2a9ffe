import type { IncomingMessage, ServerResponse } from 'node:http';
import { type PolicySnapshot, sha256Hex } from '@toolgate/contracts';
import { type CidrBlock, checkKey, findKeyByHash } from '@toolgate/policy';
import { RpcCode } from '../core/jsonrpc';
import type { Caller } from '../core/caller';
import { type SnapshotStore, SnapshotUnavailable } from '../snapshots/store';
import type { AuthFailureLog, AuthFailureReason } from './auth-failures';
import { ClientIpResolver } from './client-ip';
import { bearer, sendRpcError } from './util';

export interface AuthenticatorOptions {
  publicUrl: string;
  /** Proxies whose X-Forwarded-For / Forwarded name the client (see client-ip.ts). */
  trustedProxies: readonly CidrBlock[];
}

/** Seconds an agent is told to wait when Redis is away and its org cannot be checked. */
const RETRY_AFTER_SECONDS = 2;

/**
 * The bearer key of an agent request, checked against the org snapshot: org, key, expiry and
 * endpoint scope. Failures are answered 401 with WWW-Authenticate (an unknown org too, so org
 * slugs cannot be enumerated; 404 for an unknown server of a valid key's org) and handed to the
 * AuthFailureLog (auth-failures.ts).
 */
export class Authenticator {
  private readonly clientIp: ClientIpResolver;

  constructor(
    private readonly snapshots: SnapshotStore,
    private readonly failures: AuthFailureLog,
    private readonly opts: AuthenticatorOptions,
  ) {
    this.clientIp = new ClientIpResolver(opts.trustedProxies);
  }

  resourceMetadataUrl(org: string, server: string | null): string {
    return `${this.opts.publicUrl}/.well-known/oauth-protected-resource/mcp/${org}${server ? `/${server}` : ''}`;
  }

  /** Resolve org, key and scope; on failure the response has been sent and null is returned. */
  async authenticate(req: IncomingMessage, res: ServerResponse, org: string, server: string | null): Promise<Caller | null> {
    const challenge = (error?: string) => ({
      'WWW-Authenticate': `Bearer resource_metadata="${this.resourceMetadataUrl(org, server)}"${error ? `, error="${error}"` : ''}`,
    });
    const token = bearer(req);
    const ip = this.clientIp.resolve(req.socket.remoteAddress, req.headers);
    if (!token) {
      this.failures.record(null, 'missing', null, ip, server);
      sendRpcError(res, 401, null, { code: RpcCode.Unauthorized, message: 'Authorization: Bearer <agent key> is required' }, challenge());
      return null;
    }
    let snapshot: PolicySnapshot | null;
    try {
      snapshot = await this.snapshots.bySlug(org);
    } catch (e) {
      if (!(e instanceof SnapshotUnavailable)) throw e;
      // Any slug this worker has not loaded, real or not, gets this while Redis is away.
      sendRpcError(
        res,
        503,
        null,
        { code: RpcCode.InternalError, message: 'This organization cannot be checked right now; retry shortly' },
        { 'Retry-After': String(RETRY_AFTER_SECONDS) },
      );
      return null;
    }
    // An unknown org answers exactly as a known org with a wrong key (same status, body and
    // challenge, the key hashed either way): slugs cannot be enumerated.
    const hash = token.startsWith('tg_') ? sha256Hex(token) : null;
    const key = snapshot && hash ? findKeyByHash(snapshot, hash) : null;
    if (!snapshot || !key) {
      this.failures.record(snapshot, 'invalid', token, ip, server);
      sendRpcError(
        res,
        401,
        null,
        { code: RpcCode.Unauthorized, message: 'The agent key is invalid or revoked' },
        challenge('invalid_token'),
      );
      return null;
    }
    const failed = (reason: AuthFailureReason) => this.failures.record(snapshot, reason, token, ip, server);
    if (checkKey(key) === 'expired') {
      failed('expired');
      sendRpcError(res, 401, null, { code: RpcCode.Unauthorized, message: 'The agent key has expired' }, challenge('invalid_token'));
      return null;
    }
    if (server && !snapshot.servers.some((s) => s.slug === server)) {
      sendRpcError(res, 404, null, { code: RpcCode.InvalidRequest, message: `Unknown server: ${server}` });
      return null;
    }
    return { snapshot, key, principal: { keyId: key.id, roleIds: key.roleIds, metadata: key.metadata, ip }, ip, scope: server };
  }
}
