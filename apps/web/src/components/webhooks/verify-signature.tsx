import { AUDIT_SIGNATURE_HEADER } from '@toolgate/contracts/src/audit-webhooks';
import { ScrollPre } from '@/components/ui';

const NODE_SAMPLE = `import { createHmac, timingSafeEqual } from 'node:crypto';

// rawBody: the request body exactly as received (a string), before any JSON/NDJSON parsing.
export function verify(rawBody, header, secret, toleranceSeconds = 300) {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=')));
  const t = Number(parts.t);
  if (!Number.isFinite(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(\`\${t}.\${rawBody}\`).digest('hex');
  const got = Buffer.from(parts.v1 ?? '', 'hex');
  return got.length === 32 && timingSafeEqual(got, Buffer.from(expected, 'hex'));
}`;

/** How a receiver checks that a delivery came from Toolgate and was not replayed. */
export function VerifySignature() {
  return (
    <details data-testid="verify-signature">
      <summary>How to verify a delivery</summary>
      <div className="stack" style={{ marginTop: 8 }}>
        <p style={{ margin: 0 }}>
          Each delivery is a <code>POST</code> of audit events as NDJSON (one event per line, in sequence order) with the header{' '}
          <code>{AUDIT_SIGNATURE_HEADER}: t=&lt;unix seconds&gt;,v1=&lt;hex&gt;</code>. <code>v1</code> is the HMAC-SHA256 of{' '}
          <code>&lt;t&gt;.&lt;raw body&gt;</code> keyed with the signing secret. Recompute it over the raw body, compare in constant time,
          and refuse old timestamps so a captured request cannot be replayed.
        </p>
        <p style={{ margin: 0 }}>
          <code>X-Toolgate-Delivery</code> stays the same on every retry of a delivery: deduplicate on it. Answer with any 2xx status to
          acknowledge; anything else is retried with growing delays, so no event is skipped.
        </p>
        <ScrollPre className="mono small" style={{ overflowX: 'auto', margin: 0 }}>
          {NODE_SAMPLE}
        </ScrollPre>
      </div>
    </details>
  );
}
