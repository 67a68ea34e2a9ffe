import { AGENT_KEY_PREFIX, agentKeyPrefix, looksLikeAccessToken, type PolicySnapshot } from '@toolgate/contracts';
import { type CallRecord, newRecord } from '../core/call-record';

/** `audience` (an access token for another endpoint) and `revoked` (its grant is gone) are OAuth-only; a revoked key is `invalid` (it is simply unknown). */
export type AuthFailureReason = 'missing' | 'invalid' | 'expired' | 'audience' | 'revoked';

export interface AuthFailureLogOptions {
  /** Count one failure (metrics). */
  count: (reason: AuthFailureReason) => void;
  /** Hand one audit record to the events sink (McpCore.emit). */
  emit: (orgId: string, rec: CallRecord, ip: string | null) => void;
  /** Audit records per org and client address per minute; the failures beyond are counted into the next record. */
  perMinute: number;
  /** Org+address windows held at most; beyond, new addresses share one window per org (memory stays bounded under a spread-out flood). */
  maxWindows?: number;
  now?: () => number;
}

interface Window {
  orgId: string;
  ip: string | null;
  startedAt: number;
  recorded: number;
  /** Failures not recorded since the last record. */
  suppressed: number;
}

const MINUTE_MS = 60_000;
const MESSAGES: Record<AuthFailureReason, string> = {
  missing: 'No agent key',
  invalid: 'The agent key is invalid or revoked',
  expired: 'The agent key has expired',
  audience: 'The access token is for another resource',
  revoked: 'The access token’s grant has been revoked',
};
const TOKEN_MESSAGES: Partial<Record<AuthFailureReason, string>> = {
  invalid: 'The access token is invalid',
  expired: 'The access token has expired',
};
/** Longest client id kept in a record (URL client ids may be long). */
const MAX_CLIENT_ID = 200;

/**
 * Failed authentications at the gateway: every one is counted; presented keys that fail
 * (invalid, revoked, expired) also go to the org's audit chain as `auth/failed`, denied, with
 * the key's visible prefix (never the key) and the client address; for an OAuth access token,
 * `oauth:<client id>` once the token is known to be genuine and for this org, else `oauth`. A flood cannot fill the chain:
 * each org+address gets `perMinute` records a minute, and the next record says how many were
 * left out (a window that ends with failures left out gets a closing record of its own, written
 * at the next failure anywhere). A request with no key at all is only counted: clients send one
 * to discover the authorization server, so it is no sign of an attack.
 */
export class AuthFailureLog {
  private readonly windows = new Map<string, Window>();
  private readonly maxWindows: number;
  private readonly now: () => number;
  private lastSweep: number;

  constructor(private readonly opts: AuthFailureLogOptions) {
    this.maxWindows = opts.maxWindows ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.lastSweep = this.now();
  }

  /**
   * `snapshot` is null when the org is not looked up yet (no key: counted only). `oauthClientId`:
   * the client of a genuine access token of this org (never set for another org's token).
   */
  record(
    snapshot: PolicySnapshot | null,
    reason: AuthFailureReason,
    token: string | null,
    ip: string | null,
    server: string | null,
    oauthClientId: string | null = null,
  ): void {
    this.opts.count(reason);
    if (reason === 'missing' || !snapshot) return;
    const now = this.now();
    if (now - this.lastSweep >= MINUTE_MS) this.sweep(now);
    let id = `${snapshot.orgId}\u0000${ip ?? ''}`;
    let w = this.windows.get(id);
    if (!w && this.windows.size >= this.maxWindows) {
      id = `${snapshot.orgId}\u0000*`;
      w = this.windows.get(id);
      ip = null;
    }
    if (!w || now - w.startedAt >= MINUTE_MS) {
      const suppressed = w?.suppressed ?? 0;
      w = { orgId: snapshot.orgId, ip, startedAt: now, recorded: 0, suppressed };
      this.windows.set(id, w);
    }
    if (w.recorded >= this.opts.perMinute) {
      w.suppressed++;
      return;
    }
    w.recorded++;
    const rec = newRecord('auth/failed');
    rec.decision = 'unauthenticated';
    rec.outcome = 'denied';
    const oauth = token !== null && looksLikeAccessToken(token);
    rec.error = (oauth ? TOKEN_MESSAGES[reason] : undefined) ?? MESSAGES[reason];
    rec.target = oauth ? (oauthClientId ? `oauth:${oauthClientId.slice(0, MAX_CLIENT_ID)}` : 'oauth') : visiblePrefix(token);
    rec.server = server ? (snapshot.servers.find((s) => s.slug === server) ?? null) : null;
    rec.arguments = { reason, suppressedBefore: w.suppressed };
    w.suppressed = 0;
    this.opts.emit(snapshot.orgId, rec, ip);
  }

  /** Drop ended windows; one whose failures were left out gets a closing record. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [id, w] of this.windows) {
      if (now - w.startedAt < MINUTE_MS) continue;
      this.windows.delete(id);
      if (w.suppressed === 0) continue;
      const rec = newRecord('auth/failed');
      rec.decision = 'unauthenticated';
      rec.outcome = 'denied';
      rec.error = `${w.suppressed} more failed authentications from this address in the minute from ${new Date(w.startedAt).toISOString()}`;
      rec.arguments = { reason: 'summary', suppressedBefore: w.suppressed };
      this.opts.emit(w.orgId, rec, w.ip);
    }
  }
}

/** The visible prefix of something shaped like an agent key; anything else (another kind of secret) is not recorded at all. */
function visiblePrefix(token: string | null): string | null {
  if (!token?.startsWith(AGENT_KEY_PREFIX) || !/^[A-Za-z0-9]{8}/.test(token.slice(AGENT_KEY_PREFIX.length))) return null;
  return agentKeyPrefix(token);
}
