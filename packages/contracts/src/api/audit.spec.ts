import { CreateAuditWebhookRequest, ListAuditQuery } from './audit';

const paths = (r: { error?: { issues: { path: PropertyKey[] }[] } }) => (r.error?.issues ?? []).map((i) => i.path.join('.'));

describe('ListAuditQuery', () => {
  it('parses filters, a cursor and the default limit', () => {
    const q = ListAuditQuery.parse({ from: '2026-11-01T00:00:00Z', outcome: 'cancelled', cursor: '42' });
    expect(q).toEqual({ from: new Date('2026-11-01T00:00:00Z'), outcome: 'cancelled', cursor: 42n, limit: 50 });
  });

  it('refuses an instant without a zone, an unknown outcome, a bad id and an inverted range', () => {
    expect(paths(ListAuditQuery.safeParse({ from: '2026-11-01T00:00:00', outcome: 'canceled', keyId: 'k1' }))).toEqual([
      'from',
      'keyId',
      'outcome',
    ]);
    const r = ListAuditQuery.safeParse({ from: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z' });
    expect(r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['to: from must be before to']);
  });
});

describe('CreateAuditWebhookRequest', () => {
  it('refuses credentials in the URL and defaults the rest', () => {
    expect(CreateAuditWebhookRequest.safeParse({ url: 'https://u:p@siem.test/in' }).error?.issues[0]?.message).toBe(
      'must not carry credentials (requests are signed instead)',
    );
    expect(CreateAuditWebhookRequest.parse({ url: 'https://siem.test/in' })).toEqual({
      url: 'https://siem.test/in',
      enabled: true,
      startAt: 'now',
    });
  });
});
