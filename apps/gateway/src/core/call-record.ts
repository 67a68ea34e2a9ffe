import type { AuditEvent, Decision as EventDecision, Outcome, SnapshotServer, UsageEvent } from '@toolgate/contracts';
import { decide, type PolicyRequest, type Redactor, ruleLabel } from '@toolgate/policy';
import { uuidv7 } from 'uuidv7';
import { BackendError } from '../backends/types';
import type { Caller, OAuthParty } from './caller';
import { type JsonRpcError, RpcCode, RpcError } from './jsonrpc';
import type { SessionState } from './sessions';

/** The audit trail of one message, filled in by the core as the message is served. */
export interface CallRecord {
  method: string;
  server: SnapshotServer | null;
  target: string | null;
  arguments: unknown;
  decision: EventDecision;
  rule: string | null;
  outcome: Outcome;
  error: string | null;
  startedAt: number;
}

export function newRecord(method: string): CallRecord {
  return {
    method,
    server: null,
    target: null,
    arguments: undefined,
    decision: 'allow',
    rule: null,
    outcome: 'ok',
    error: null,
    startedAt: performance.now(),
  };
}

/** Decide a request; a denial is written to the record and thrown as -32003 naming the rule. */
export function authorize(caller: Caller, request: PolicyRequest, record: CallRecord): void {
  const decision = decide(caller.snapshot, caller.principal, request);
  record.rule = decision.rule ? ruleLabel(decision.rule) : null;
  if (decision.allowed) return;
  record.decision = 'deny';
  record.outcome = 'denied';
  record.error = decision.reason;
  throw new RpcError(RpcCode.Denied, `Denied by policy: ${decision.reason}`, { rule: record.rule, reason: decision.reason });
}

export function toRpcError(e: unknown): RpcError {
  if (e instanceof RpcError) return e;
  if (e instanceof BackendError) return new RpcError(e.error.code, e.error.message, e.error.data);
  return new RpcError(RpcCode.InternalError, 'Internal gateway error');
}

/** Who a record is about, beyond what it says itself. */
export interface RecordParty {
  orgId: string;
  keyId: string | null;
  ip: string | null;
  session: Pick<SessionState, 'id' | 'clientInfo'> | null;
  /** An OAuth caller's client and consenting person (keyId is then the grant id). */
  oauth?: OAuthParty;
}

/**
 * The audit and usage events of one finished message. `redact` is the caller's: the audit chain
 * can never be amended, so what goes in passes the same redaction as responses.
 */
export function recordEvents(
  rec: CallRecord,
  party: RecordParty,
  redact: Redactor,
  bytesIn: number,
  bytesOut: number,
): { audit: AuditEvent; usage: UsageEvent } {
  const at = new Date().toISOString();
  const latencyMs = Math.round((performance.now() - rec.startedAt) * 1000) / 1000;
  const audit: AuditEvent = {
    schemaVersion: 1,
    id: uuidv7(),
    orgId: party.orgId,
    keyId: party.keyId,
    ...(party.oauth ? { oauth: party.oauth } : {}),
    serverId: rec.server?.id ?? null,
    serverSlug: rec.server?.slug ?? null,
    method: rec.method,
    target: rec.target,
    arguments: redact(rec.arguments),
    decision: rec.decision,
    rule: rec.rule,
    outcome: rec.outcome,
    error: rec.error === null ? null : redact(rec.error),
    latencyMs,
    bytesIn,
    bytesOut,
    clientName: party.session?.clientInfo?.name ?? null,
    clientVersion: party.session?.clientInfo?.version ?? null,
    sessionId: party.session?.id ?? null,
    ip: party.ip,
    at,
  };
  const usage: UsageEvent = {
    schemaVersion: 1,
    id: audit.id,
    orgId: party.orgId,
    keyId: audit.keyId,
    serverId: audit.serverId,
    target: audit.target,
    method: audit.method,
    decision: audit.decision,
    outcome: audit.outcome,
    durationMs: latencyMs,
    bytesIn,
    bytesOut,
    at,
  };
  return { audit, usage };
}

/** A call's record could not be written: the agent must not see a success nobody recorded. `ran`: whether the call ran. */
export function unrecorded(ran: boolean): JsonRpcError {
  return {
    code: RpcCode.Unrecorded,
    message: ran
      ? 'The call ran, but its audit record could not be written, so its result is withheld'
      : 'This gateway worker cannot record calls right now (event log not writable); the call was not run. Retry',
    data: { ran, retryAfterSeconds: 1 },
  };
}
