import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Logger } from '@toolgate/gateway/src/log';
import { RemoteSession, type RemoteSessionOptions } from './remote-session';

export interface StdioRelay {
  /** Resolves once the host closed stdin (or close() was called) and the remote session was ended. */
  closed: Promise<void>;
  /** Ends the remote session and the relay, as the host closing stdin does. */
  close(): Promise<void>;
}

/**
 * Serves a host on stdin/stdout as its MCP server by relaying every message, both ways, to a
 * Toolgate endpoint over Streamable HTTP with an agent key. `toolgate gateway --stdio` relays to
 * its own loopback endpoint (so stdio agents get exactly the HTTP agents' policy, limits and
 * audit) and `toolgate connect` to a remote one. The host closing stdin ends the session.
 */
export async function runStdioRelay(
  endpoint: string,
  key: string,
  log: Logger,
  opts: Partial<RemoteSessionOptions> = {},
): Promise<StdioRelay> {
  const remote = new RemoteSession({ ...opts, endpoint: new URL(endpoint), key, log });
  const stdio = new StdioServerTransport();
  let done!: () => void;
  const closed = new Promise<void>((resolve) => {
    done = resolve;
  });
  stdio.onmessage = (message) => void remote.forward(message);
  stdio.onerror = (err) => log.warn(`stdio: ${err.message}`);
  remote.onmessage = (message) => void stdio.send(message).catch(() => undefined);
  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    void remote
      .close()
      .then(() => stdio.close())
      .finally(done);
  };
  process.stdin.once('end', close);
  process.stdin.once('close', close);
  await remote.start();
  await stdio.start();
  return {
    closed,
    close: () => {
      close();
      return closed;
    },
  };
}
