import { type Api, createOrg, signup, startApi } from '../../test/harness';
import { AuditProducer, auditEvent, queuePrefix, startAuditWorker, waitFor } from '../modules/audit/audit.test-fixtures';

/** Lines written to stdout while `fn` runs, parsed (others written meanwhile are kept too). */
async function captureStdout(fn: () => Promise<void>): Promise<Array<Record<string, unknown>>> {
  const chunks: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return chunks
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('the API access log', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi({ LOG_LEVEL: 'info' });
  });
  afterAll(() => api.close());

  it('writes one JSON line per request: method, route, status, outcome, latency, org, user and trace id; no token', async () => {
    const owner = await signup(api);
    const org = await createOrg(api, owner);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const lines = await captureStdout(async () => {
      await api
        .req()
        .get(`/v1/orgs/${org.slug}/servers`)
        .set(owner.auth)
        .set('Cookie', 'tg_refresh=cookie-secret')
        .set('traceparent', `00-${traceId}-00f067aa0ba902b7-01`)
        .expect(200);
      const res = await api.req().get(`/v1/orgs/${org.slug}/servers?token=query-secret`).expect(401);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
    const http = lines.filter((l) => l.component === 'http');
    expect(http).toHaveLength(2);
    expect(http[0]).toMatchObject({
      level: 'info',
      msg: 'request',
      method: 'GET',
      route: '/v1/orgs/:org/servers',
      status: 200,
      outcome: 'ok',
      org: org.slug,
      orgId: org.id,
      userId: owner.id,
      traceId,
      spanId: '00f067aa0ba902b7',
    });
    expect(http[0]!.latencyMs).toEqual(expect.any(Number));
    expect(http[1]).toMatchObject({ method: 'GET', route: '/v1/orgs/:org/servers', status: 401, outcome: 'refused', org: org.slug });
    expect(http[1]!.userId).toBeUndefined();
    expect(http[1]!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const raw = JSON.stringify(lines);
    for (const secret of [owner.accessToken, 'cookie-secret', 'query-secret']) expect(raw).not.toContain(secret);
  });

  it('writes nothing under LOG_LEVEL=warn', async () => {
    const quiet = await startApi({ LOG_LEVEL: 'warn' });
    try {
      const lines = await captureStdout(async () => {
        await quiet.req().get('/healthz').expect(200);
      });
      expect(lines.filter((l) => l.component === 'http')).toEqual([]);
    } finally {
      await quiet.close();
    }
  });
});

describe('the worker job log', () => {
  it('writes one JSON line per job: queue, job id, org, events, outcome, latency', async () => {
    const api = await startApi();
    const prefix = queuePrefix();
    const producer = new AuditProducer(prefix);
    const worker = await startAuditWorker({ QUEUE_PREFIX: prefix, LOG_LEVEL: 'info' });
    try {
      const org = await createOrg(api, await signup(api));
      let jobIds: string[] = [];
      const lines = await captureStdout(async () => {
        jobIds = await producer.add([auditEvent({ orgId: org.id }), auditEvent({ orgId: org.id })]);
        await producer.drained();
        await waitFor(async () => (await producer.counts()).completed >= jobIds.length, 15_000, 'the job to complete');
      });
      const jobs = lines.filter((l) => l.component === 'worker' && l.msg === 'job');
      expect(jobs).toHaveLength(jobIds.length);
      expect(jobs[0]).toMatchObject({
        level: 'info',
        queue: 'tg-audit',
        jobId: jobIds[0],
        orgId: org.id,
        events: 2,
        attempt: 1,
        outcome: 'ok',
      });
      expect(jobs[0]!.latencyMs).toEqual(expect.any(Number));
      expect(jobs[0]!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await worker.close();
      await producer.close();
      await api.close();
    }
  });
});
