import type { Writable } from 'node:stream';

const held = new WeakSet<Writable>();

/**
 * Holds what `stream` is given for the rest of this event-loop turn and sends it as one write
 * (cork now, uncork in the turn's check phase). Each write to a socket or pipe is a system call,
 * and on loopback the kernel does the receiver's work inside it: under load the calls of one turn
 * (tens of agent requests) each paid one for the Redis rate-limit script, one for the stdio
 * child's stdin and one for the request log. A lone request waits for nothing: its turn ends at
 * once.
 */
export function holdForTurn(stream: Writable): void {
  if (held.has(stream) || stream.destroyed) return;
  held.add(stream);
  stream.cork();
  setImmediate(() => {
    held.delete(stream);
    stream.uncork();
  });
}
