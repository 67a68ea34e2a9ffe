import { rateLimitScope } from './http/calls';
import { createGatewayMetrics, rpcErrorLabel, setCircuitGauge } from './metrics';

describe('metric labels stay a closed set', () => {
  it('names the scope of the bucket that refused, never the bucket', () => {
    expect(rateLimitScope({ bucket: 'key:k1', retryAfterSeconds: 1 })).toBe('key');
    expect(rateLimitScope({ bucket: 'tool:k1:github__create_issue' })).toBe('tool');
    expect(rateLimitScope({ bucket: 'org' })).toBe('org');
    expect(rateLimitScope({ bucket: 'ip:10.0.0.1' })).toBe('ip');
    expect(rateLimitScope({ bucket: 'weird:x' })).toBe('other');
    expect(rateLimitScope(undefined)).toBe('other');
  });

  it('labels standard and gateway error codes by value and anything an upstream invents as other', () => {
    expect(rpcErrorLabel(-32008)).toBe('-32008');
    expect(rpcErrorLabel(-32601)).toBe('-32601');
    expect(rpcErrorLabel(-31999)).toBe('other');
    expect(rpcErrorLabel(42)).toBe('other');
  });

  it('writes one breaker series per org and server, by org slug, and drops upstreams no longer held', async () => {
    const m = createGatewayMetrics();
    const slugs: Record<string, string> = { o1: 'acme' };
    setCircuitGauge(
      m,
      [
        { orgId: 'o1', server: 'github', state: 'open' },
        { orgId: 'o2', server: 'jira', state: 'half-open' },
      ],
      (id) => slugs[id],
    );
    let text = await m.registry.metrics();
    expect(text).toContain('toolgate_gateway_circuit_breaker_state{org="acme",server="github"} 2');
    expect(text).toContain('toolgate_gateway_circuit_breaker_state{org="o2",server="jira"} 1');
    setCircuitGauge(m, [{ orgId: 'o1', server: 'github', state: 'closed' }], (id) => slugs[id]);
    text = await m.registry.metrics();
    expect(text).toContain('toolgate_gateway_circuit_breaker_state{org="acme",server="github"} 0');
    expect(text).not.toContain('server="jira"');
  });
});
