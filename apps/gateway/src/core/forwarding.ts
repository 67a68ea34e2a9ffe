import type { SnapshotServer } from '@toolgate/contracts';
import { BackendError, type CallContext } from '../backends/types';
import type { BackendDirectory } from './backends';
import { type CallRecord, toRpcError } from './call-record';
import type { AgentChannel, Caller } from './caller';
import { type JsonRpcRequest, RpcCode, RpcError } from './jsonrpc';
import { logPasses } from './logging';
import type { Redactors } from './redaction';
import type { SessionState } from './sessions';
import { TASK_STATUS, type TaskBroker } from './tasks';

/**
 * A request on its way to the upstream that serves the caller's session, and everything the
 * upstream says back during it: notifications and server-to-client requests go to the calling
 * agent through the same redaction as the result.
 */
export class Forwarder {
  constructor(
    private readonly backends: BackendDirectory,
    private readonly redactors: Redactors,
    private readonly tasks: TaskBroker,
  ) {}

  async forward(
    caller: Caller,
    session: SessionState,
    server: SnapshotServer,
    method: string,
    params: Record<string, unknown>,
    channel: AgentChannel,
    signal: AbortSignal,
    record: CallRecord,
  ): Promise<Record<string, unknown>> {
    const backend = this.backends.forSession(caller, session, server);
    const ctx = this.callContext(caller, session, server, backend.key, channel, signal);
    try {
      await backend.ready();
      return await backend.request(method, params, ctx);
    } catch (e) {
      const err = toRpcError(e);
      // A call the agent cancelled failed on the agent's side: the upstream did nothing wrong
      // (the backend reports it as a failure to reach the upstream, kind 'unavailable').
      record.outcome = signal.aborted
        ? 'cancelled'
        : e instanceof BackendError && e.kind === 'timeout'
          ? 'timeout'
          : e instanceof BackendError && e.kind !== 'upstream'
            ? 'upstream_error'
            : 'error';
      // Raw here: the events redact the record, McpCore.handle the error the agent gets.
      record.error = err.message;
      throw err;
    }
  }

  /** What the upstream says besides a result leaves through the result's filter; a task's status goes to its owner alone. */
  callContext(
    caller: Caller,
    session: SessionState,
    server: SnapshotServer,
    backendKey: string,
    channel: AgentChannel,
    signal: AbortSignal,
  ): CallContext {
    const redact = this.redactors.forCaller(caller, server);
    return {
      sessionId: session.id,
      signal,
      onNotification: (n) => {
        if (n.method === TASK_STATUS) return void this.tasks.onStatus(backendKey, redact(n)).catch(() => undefined);
        if (n.method === 'notifications/message' && !logPasses(n.params?.level, session.logLevel)) return;
        channel.notify(redact(n));
      },
      onServerRequest: (r) => askAgent(session, redact(r), channel, signal),
    };
  }
}

/** Sampling, elicitation and roots requests go to the agent only if it declared the capability. */
export function askAgent(
  session: SessionState,
  r: JsonRpcRequest,
  channel: AgentChannel,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const needs =
    r.method === 'sampling/createMessage'
      ? 'sampling'
      : r.method === 'elicitation/create'
        ? 'elicitation'
        : r.method === 'roots/list'
          ? 'roots'
          : null;
  if (needs && !session.clientCapabilities[needs]) {
    return Promise.reject(new RpcError(RpcCode.MethodNotFound, `The agent does not support ${r.method}`));
  }
  return channel.request(r.method, r.params, signal);
}
