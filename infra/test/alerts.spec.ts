import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { createGatewayMetrics } from '../../apps/gateway/src/metrics';
import { root } from './render';

/** Alert rules (infra/grafana/alerts.yaml): well-formed, and every series they read is one the apps export. */
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const rules = (
  parse(readFileSync(path.join(root, 'infra/grafana/alerts.yaml'), 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> }
).groups.flatMap((g) => g.rules);

/** Metric names the processes export: the gateway's registry as built, and the API's `name: 'toolgate_…'` declarations. */
function exported(): Set<string> {
  const names = new Set(
    createGatewayMetrics()
      .registry.getMetricsAsArray()
      .map((m) => m.name),
  );
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = path.join(dir, f);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') && !p.includes('.spec.') ? [p] : [];
    });
  for (const file of walk(path.join(root, 'apps/api/src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/name: '(toolgate_[a-z_]+)'/g)) names.add(m[1]!);
  }
  return names;
}

describe('alert rules', () => {
  it('each rule has a unique name, an expression, a severity and a summary', () => {
    expect(rules.length).toBeGreaterThan(0);
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.expr).toEqual(expect.any(String));
      expect(['warning', 'critical']).toContain(r.labels?.severity);
      expect(r.annotations?.summary).toEqual(expect.any(String));
    }
  });

  it('reads only series the API and the gateway export', () => {
    const names = exported();
    const suffix = /_(bucket|sum|count)$/;
    for (const r of rules) {
      for (const [used] of r.expr.matchAll(/toolgate_[a-z_]+/g)) {
        const known = names.has(used) || (suffix.test(used) && names.has(used.replace(suffix, '')));
        if (!known) throw new Error(`${r.alert} reads ${used}, which nothing exports`);
      }
    }
  });

  it('alerts on dead upstream breakers, a growing event spool, gateway 5xx and -32008', () => {
    const byName = new Map(rules.map((r) => [r.alert, r]));
    expect(byName.get('ToolgateUpstreamCircuitOpen')).toMatchObject({
      for: '5m',
      expr: expect.stringContaining('toolgate_gateway_circuit_breaker_state'),
    });
    expect(byName.get('ToolgateEventSpoolGrowing')?.expr).toContain('deriv(toolgate_gateway_spool_events');
    expect(byName.get('ToolgateGateway5xx')?.expr).toContain('class="5xx"');
    expect(byName.get('ToolgateGatewayUnrecorded')?.expr).toContain('code="-32008"');
  });
});
