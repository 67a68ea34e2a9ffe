import { z } from 'zod';

/** What the gateway decided about a call, and how the call ended: recorded on every audit and usage event. */

export const Decision = z.enum(['allow', 'deny', 'rate_limited', 'quota_exceeded', 'unauthenticated']);
export type Decision = z.infer<typeof Decision>;

/**
 * How a call ended. `cancelled`: the agent cancelled it (notifications/cancelled) or went away
 * before its response; it gets no response, though the upstream may have done the work. Added
 * after the first release: consumers (API worker) must run a version that knows it before
 * gateways send it, or its events are dead-lettered until they do.
 */
export const Outcome = z.enum(['ok', 'error', 'denied', 'timeout', 'upstream_error', 'cancelled']);
export type Outcome = z.infer<typeof Outcome>;
