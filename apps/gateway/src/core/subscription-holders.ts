/**
 * Which agent sessions hold each upstream resource subscription of a backend on this worker.
 * Sessions that share a backend (per-key, shared) share its one upstream subscription to a URI,
 * so one session's resources/unsubscribe must not end another's: it goes upstream only when the
 * last holder lets go. A holder that vanished without unsubscribing only keeps the upstream
 * subscribed; what agents hear is still filtered by each session's own subscriptions.
 */
export class SubscriptionHolders {
  /** backend key → upstream URI → session ids. */
  private readonly byBackend = new Map<string, Map<string, Set<string>>>();

  hold(backendKey: string, uri: string, sessionId: string): void {
    let byUri = this.byBackend.get(backendKey);
    if (!byUri) {
      byUri = new Map();
      this.byBackend.set(backendKey, byUri);
    }
    let holders = byUri.get(uri);
    if (!holders) {
      holders = new Set();
      byUri.set(uri, holders);
    }
    holders.add(sessionId);
  }

  /** Let go of a subscription; true when nobody else holds it (the upstream should hear the unsubscribe). */
  release(backendKey: string, uri: string, sessionId: string): boolean {
    const byUri = this.byBackend.get(backendKey);
    const holders = byUri?.get(uri);
    if (!byUri || !holders) return true;
    holders.delete(sessionId);
    if (holders.size > 0) return false;
    byUri.delete(uri);
    if (byUri.size === 0) this.byBackend.delete(backendKey);
    return true;
  }

  /** The backend closed: its upstream subscriptions went with it. */
  forgetBackend(backendKey: string): void {
    this.byBackend.delete(backendKey);
  }

  /**
   * The session ended: it holds nothing any more. An upstream subscription left without holders
   * stays until the backend closes; agents still hear only what their own sessions subscribed to.
   */
  forgetSession(sessionId: string): void {
    for (const [backendKey, byUri] of this.byBackend) {
      for (const [uri, holders] of byUri) {
        holders.delete(sessionId);
        if (holders.size === 0) byUri.delete(uri);
      }
      if (byUri.size === 0) this.byBackend.delete(backendKey);
    }
  }
}
