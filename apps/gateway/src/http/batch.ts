import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  failure,
  type FrameLimits,
  isRequest,
  type JsonRpcMessage,
  type JsonRpcResponse,
  RpcCode,
  RpcError,
  salvageId,
  validateMessage,
} from '../core/jsonrpc';
import { type AgentChannel, type Caller } from '../core/caller';
import { toRpcError } from '../core/call-record';
import type { CallRunner } from './calls';
import { header, type RequestChecks } from './request';
import { sendJson } from './util';

export interface BatchDeps {
  checks: RequestChecks;
  calls: CallRunner;
  limits: FrameLimits;
}

/**
 * A POSTed JSON-RPC batch (Streamable HTTP). Batches exist only in 2025-03-26; later revisions
 * removed them. Each request runs in turn; the answers go back as one JSON array.
 */
export async function postBatch(
  deps: BatchDeps,
  req: IncomingMessage,
  res: ServerResponse,
  caller: Caller,
  raw: unknown[],
  bytes: number,
): Promise<void> {
  if (raw.length === 0) {
    sendJson(res, 400, failure(null, { code: RpcCode.InvalidRequest, message: 'An empty batch is invalid' }));
    return;
  }
  const session = await deps.checks.loadSession(req, res, caller, header(req, 'mcp-session-id'));
  if (!session) return;
  if (session.protocolVersion !== '2025-03-26') {
    sendJson(
      res,
      400,
      failure(null, {
        code: RpcCode.InvalidRequest,
        message: `JSON-RPC batches are not supported in protocol ${session.protocolVersion}`,
      }),
    );
    return;
  }
  const out: JsonRpcResponse[] = [];
  for (const item of raw) {
    let msg: JsonRpcMessage;
    try {
      msg = validateMessage(item, deps.limits);
    } catch (e) {
      out.push(failure(salvageId(item), toRpcError(e).toJSON()));
      continue;
    }
    if (!isRequest(msg)) {
      deps.calls.accept(session, msg);
      continue;
    }
    const response = await deps.calls.execute(caller, session, msg, noChannel, Math.round(bytes / raw.length));
    if (response) out.push(response);
  }
  if (out.length === 0) res.writeHead(202).end();
  else sendJson(res, 200, out);
}

/** Calls inside a batch cannot stream: server-to-client requests are refused. */
const noChannel: AgentChannel = {
  notify: () => undefined,
  request: () => Promise.reject(new RpcError(RpcCode.MethodNotFound, 'Server-to-client requests are not available inside a batch')),
};
