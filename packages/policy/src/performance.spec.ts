import type { RoleRulesInput } from '@toolgate/contracts';
import { decide, visible } from './decide';
import { prepare } from './compiled';
import { principalWith, snapshotWith } from './test-fixtures';

/** This process's CPU time in ms: beside other suites on two cores, the wall clock also times the neighbours. */
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * A loose guard against accidental per-call compilation or quadratic work in decide(): 100k
 * decisions over 200 rules. Each decision typically takes a few microseconds; the bound is set
 * far above that so a slow, busy 2-core CI machine does not make it flaky.
 */
describe('decide performance', () => {
  // 200 tool rules in 4 roles, mixing every glob shape; the call is allowed only by the last
  // (constrained) rule, so every decision scans all 200.
  const roleRules = (offset: number): RoleRulesInput => ({
    tools: Array.from({ length: 50 }, (_, i) => {
      const n = offset + i;
      switch (n % 5) {
        case 0:
          return { effect: 'allow' as const, match: `srv${n}__*` };
        case 1:
          return { effect: 'allow' as const, match: `*__tool_${n}` };
        case 2:
          return { effect: 'deny' as const, match: `srv${n}__delete_*` };
        case 3:
          return { effect: 'allow' as const, match: `s?v${n}__*_x*` };
        default:
          return { effect: 'allow' as const, match: `srv${n}__exact_tool` };
      }
    }),
    ipAllow: ['10.0.0.0/8', '2001:db8::/32'],
  });
  const roles = [0, 50, 100, 150].map((offset) => ({ name: `role${offset}`, rules: roleRules(offset) }));
  const last = roles[3]?.rules.tools;
  last?.splice(49, 1, {
    effect: 'allow',
    match: 'crm__get_*',
    constraints: { customer_id: { equals: '${key.metadata.customer_id}' }, limit: { max: 100, required: false } },
  });
  const snapshot = snapshotWith(roles);
  const principal = principalWith(
    roles.map((r) => r.name),
    { metadata: { customer_id: 'c_42' }, ip: '10.1.2.3' },
  );
  const request = { kind: 'tool' as const, server: 'crm', name: 'get_customer', arguments: { customer_id: 'c_42', limit: 10 } };

  it('has 200 rules and the expected outcome', () => {
    expect(snapshot.roles.reduce((n, r) => n + r.rules.tools.length, 0)).toBe(200);
    expect(decide(snapshot, principal, request)).toMatchObject({ allowed: true, rule: { roleName: 'role150', path: 'tools[49]' } });
  });

  it('runs 100k decisions well under 2 seconds of CPU', () => {
    prepare(snapshot);
    for (let i = 0; i < 1_000; i++) decide(snapshot, principal, request); // warm up the JIT
    const started = cpuMs();
    let allowed = 0;
    for (let i = 0; i < 100_000; i++) if (decide(snapshot, principal, request).allowed) allowed++;
    const elapsed = cpuMs() - started;
    expect(allowed).toBe(100_000);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('runs 100k visibility checks well under 2 seconds of CPU', () => {
    const started = cpuMs();
    for (let i = 0; i < 100_000; i++) visible(snapshot, principal, 'tool', 'crm', 'get_customer');
    expect(cpuMs() - started).toBeLessThan(2_000);
  });
});
