/** What the relay needs to hear about the HTTP exchanges the SDK's transport makes. */
export interface FetchEvents {
  /** 401 or 403: the key was refused (the status and the gateway's message). */
  onAuthFailure(status: number, message: string): void;
  /** A GET (the session's stream, or a resumption) with this session id answered 404: the session is gone. */
  onSessionGone(sessionId: string): void;
  /** The event stream answering the request with this id ended, with or without its response. */
  onRequestStreamEnd(id: string | number): void;
}

/** The remote could not be reached at all (nothing was delivered): safe to send again. */
export class RemoteUnreachable extends Error {}

/** The connection failed after it was made: the remote may have received the message, so it is not sent again. */
export class RemoteConnectionLost extends Error {}

const NOT_DELIVERED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * The fetch the relay's transport uses. A request the gateway refused at the HTTP level (401,
 * 403, 429, 413…) carries its JSON-RPC error in the body: the host gets that error itself, code
 * and data included, as an HTTP agent does, instead of the SDK's generic transport failure. A
 * 404 for a session stays a 404 (the relay re-initializes). Other responses pass unchanged.
 */
export function remoteFetch(events: FetchEvents): (url: string | URL, init?: RequestInit) => Promise<Response> {
  return async (url, init) => {
    const res = await fetchOrUnreachable(url, init);
    const sessionId = new Headers(init?.headers).get('mcp-session-id');
    if (init?.method === 'GET' && res.status === 404 && sessionId) events.onSessionGone(sessionId);
    if (init?.method !== 'POST') {
      // A key revoked mid-session shows first on the session's stream.
      if (res.status === 401 || res.status === 403) events.onAuthFailure(res.status, res.statusText);
      return res;
    }
    const id = requestId(init.body);
    if (res.ok) return id === undefined ? res : watchStreamEnd(res, () => events.onRequestStreamEnd(id));
    if (res.status === 404 && sessionId) return res;
    const body = await res.text();
    const msg = parseJson(body) as { jsonrpc?: unknown; id?: unknown; error?: { message?: unknown } } | undefined;
    if (res.status === 401 || res.status === 403)
      events.onAuthFailure(res.status, String(msg?.error?.message ?? (body.slice(0, 200) || res.statusText)));
    // Refused before its body was read (401), the answer names no id: it is the request's.
    const answerId = msg?.id ?? id;
    if (msg?.jsonrpc === '2.0' && answerId !== null && answerId !== undefined && msg.error) {
      return new Response(JSON.stringify({ ...msg, id: answerId }), { status: 200, headers: { 'content-type': 'application/json' } });
    }
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

async function fetchOrUnreachable(url: string | URL, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    const code = (e as { cause?: { code?: string } }).cause?.code;
    if (code && NOT_DELIVERED.has(code)) throw new RemoteUnreachable(`${new URL(url).origin} is unreachable (${code})`, { cause: e });
    if ((e as Error).name === 'AbortError') throw e;
    throw new RemoteConnectionLost(`the connection to ${new URL(url).origin} failed (${code ?? (e as Error).message})`, { cause: e });
  }
}

/** The same response, calling `ended` once its event stream is over (finished, broken or abandoned). */
function watchStreamEnd(res: Response, ended: () => void): Response {
  if (!res.body || !res.headers.get('content-type')?.includes('text/event-stream')) return res;
  const reader = res.body.getReader();
  let done = false;
  const end = () => {
    if (!done) ended();
    done = true;
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          controller.close();
          end();
        } else controller.enqueue(chunk.value);
      } catch (e) {
        controller.error(e);
        end();
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The id of the JSON-RPC request in a POST body (undefined for notifications and responses). */
export function requestId(body: unknown): string | number | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const msg = JSON.parse(body) as { id?: unknown; method?: unknown };
    return typeof msg.method === 'string' && (typeof msg.id === 'string' || typeof msg.id === 'number') ? msg.id : undefined;
  } catch {
    return undefined;
  }
}
