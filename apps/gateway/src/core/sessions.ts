/** What a session remembers between requests; any worker can serve any request. */
export interface SessionState {
  id: string;
  orgId: string;
  keyId: string;
  /** Server slug for `/mcp/{org}/{server}`, null for the aggregated endpoint. */
  server: string | null;
  protocolVersion: string;
  clientInfo: { name: string; version: string } | null;
  clientCapabilities: Record<string, unknown>;
  /** Minimum level of log messages relayed (logging/setLevel). */
  logLevel: string | null;
  /**
   * Resources this session subscribed to, as `tg://{server}/{uri}` whatever the endpoint: only
   * these sessions receive notifications/resources/updated. Replaced (never mutated) on change.
   */
  subscriptions?: readonly string[];
  createdAt: number;
}
