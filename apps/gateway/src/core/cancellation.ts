import { RpcCode, RpcError } from './jsonrpc';

/**
 * The abort reason of a call the agent cancelled (`notifications/cancelled`). It is told apart
 * from other aborts (shutdown) because a cancelled request gets no response at all.
 */
export class AgentCancelled extends RpcError {
  constructor(reason: string) {
    super(RpcCode.InternalError, reason);
  }

  static of(signal: AbortSignal): boolean {
    return signal.aborted && signal.reason instanceof AgentCancelled;
  }
}
