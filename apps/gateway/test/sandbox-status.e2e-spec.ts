import { GatewayStatus, redisKeys } from '@toolgate/contracts';
import Redis from 'ioredis';
import { type Stack, setupOrg, startStack } from './harness';

/** Operators and org admins can see how tenant code runs: /readyz, Redis, the API, the log. */
describe('sandbox status', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(process.env.REDIS_URL!);
  });
  afterAll(() => redis.disconnect());

  // biome-ignore lint/suspicious/noExplicitAny: /readyz JSON, checked field by field.
  const readyz = async (base: string): Promise<any> => (await fetch(`${base}/readyz`)).json();
  const reported = async (workerId: string) => {
    const raw = await redis.hget(redisKeys.gatewayStatus, workerId);
    return raw === null ? null : GatewayStatus.parse(JSON.parse(raw));
  };

  describe('confined (the default)', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack();
    });
    afterAll(() => stack?.close());

    it('/readyz names the sandbox and says it works', async () => {
      const body = await readyz(stack.gatewayUrl);
      expect(body).toMatchObject({
        status: 'ready',
        checks: { sandbox: true },
        sandbox: { mode: 'bwrap', ok: true, egress: { ok: true }, limits: 'rlimit' },
      });
    });

    it('reports itself in Redis for the control plane, which shows the org it is confined', async () => {
      const body = await readyz(stack.gatewayUrl);
      expect(await reported(body.workerId)).toMatchObject({ workerId: body.workerId, sandbox: { mode: 'bwrap', ok: true } });
      const { api, org } = await setupOrg(stack, { servers: [] });
      const view = await api.call('GET', `/v1/orgs/${org.slug}/sandbox`);
      expect(view.gateways.map((g: { workerId: string }) => g.workerId)).toContain(body.workerId);
      expect(view.summary).toBe('confined');
    });

    it('removes its report when it shuts down', async () => {
      const extra = await startStack();
      const { workerId } = await readyz(extra.gatewayUrl);
      expect(await reported(workerId)).not.toBeNull();
      await extra.close();
      expect(await reported(workerId)).toBeNull();
    });
  });

  describe('STDIO_SANDBOX=off (single-team self-hosting only)', () => {
    let stack: Stack;
    const logged: string[] = [];
    beforeAll(async () => {
      const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
        logged.push(String(chunk));
        return true;
      });
      try {
        stack = await startStack({ gatewayEnv: { STDIO_SANDBOX: 'off' } });
      } finally {
        spy.mockRestore();
      }
    });
    afterAll(() => stack?.close());

    it('says so loudly at start, in /readyz and to the org', async () => {
      expect(logged.join('')).toContain('STDIO SANDBOX OFF: tenant stdio servers run unconfined on this host');
      const body = await readyz(stack.gatewayUrl);
      expect(body.sandbox).toMatchObject({ mode: 'off', ok: true });
      const { api, org } = await setupOrg(stack, { servers: [] });
      expect((await api.call('GET', `/v1/orgs/${org.slug}/sandbox`)).summary).toBe('unconfined');
    });
  });
});
