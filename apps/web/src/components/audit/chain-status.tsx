'use client';

import { useCallback, useEffect, useState } from 'react';
import { formatDate, formatNumber } from '@/components/ui';
import { call, errorMessage } from '@/lib/client';
import { APPENDED_EVENT } from './live-audit-table';
import type { VerifyResult } from '@toolgate/contracts';

/**
 * Chain verification, run when the page opens (it walks the whole chain, so it does not hold up
 * the table) and again on demand.
 */
export function ChainStatus({ org }: { org: string }) {
  const [result, setResult] = useState<VerifyResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(true);
  const [checkedAt, setCheckedAt] = useState<string | null>(null);
  /** Events appended (live) since the last verification. */
  const [since, setSince] = useState(0);

  const verify = useCallback(async () => {
    setBusy(true);
    setError(null);
    try {
      setSince(0);
      setResult(await call<VerifyResult>('GET', `/v1/orgs/${encodeURIComponent(org)}/audit/verify`));
      setCheckedAt(new Date().toISOString());
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }, [org]);

  useEffect(() => {
    void verify();
  }, [verify]);

  useEffect(() => {
    const onAppended = (e: Event) => setSince((n) => n + Number((e as CustomEvent<number>).detail || 0));
    window.addEventListener(APPENDED_EVENT, onAppended);
    return () => window.removeEventListener(APPENDED_EVENT, onAppended);
  }, []);

  return (
    <div
      className="row"
      style={{ alignItems: 'flex-start' }}
      data-testid="chain-status"
      data-state={busy ? 'checking' : error ? 'error' : result?.valid ? 'valid' : 'broken'}
    >
      <div style={{ flex: 1, minWidth: 220 }} aria-live="polite">
        {busy && !result ? (
          <span className="muted">Verifying the hash chain…</span>
        ) : error ? (
          <div className="notice error" role="alert" style={{ margin: 0 }}>
            Could not verify the chain: {error}
          </div>
        ) : result ? (
          <Outcome r={result} checkedAt={checkedAt} />
        ) : null}
        {result && !busy && since > 0 ? (
          <div className="muted small" data-testid="chain-since">
            {formatNumber(since)} new event{since === 1 ? '' : 's'} since this check: verify again to include them.
          </div>
        ) : null}
      </div>
      <button type="button" className="btn small" onClick={() => void verify()} disabled={busy}>
        {busy ? 'Verifying…' : 'Verify again'}
      </button>
    </div>
  );
}

function Outcome({ r, checkedAt }: { r: VerifyResult; checkedAt: string | null }) {
  const from = r.checkpoint ? (
    <>
      from the signed retention checkpoint at #{formatNumber(r.checkpoint.seq)} ({formatNumber(r.checkpoint.pruned)} older events pruned)
    </>
  ) : (
    <>from the first event</>
  );
  if (!r.valid) {
    return (
      <div className="notice error" role="alert" style={{ margin: 0 }}>
        <strong>Chain broken at event #{r.firstBrokenSeq ?? '?'}.</strong> {r.reason ?? 'A link or hash does not match.'}{' '}
        {r.firstBrokenSeq && r.firstBrokenSeq > r.fromSeq ? `Events #${r.fromSeq}–#${r.firstBrokenSeq - 1} verified. ` : ''}
        Events from there on cannot be trusted; compare with an earlier export.
      </div>
    );
  }
  if (r.headSeq === 0) {
    return <span className="muted">The chain was empty{checkedAt ? ` at ${formatDate(checkedAt)}` : ''}: nothing to verify yet.</span>;
  }
  return (
    <div>
      <span className="badge ok">Verified</span> <strong>Verified up to #{formatNumber(r.headSeq)}</strong>
      <span className="muted">
        {' '}
        · {formatNumber(r.checked)} events checked {from}; every link and hash matches.
        {checkedAt ? ` Checked ${formatDate(checkedAt)}.` : ''}
      </span>
      {r.checkpoint && !r.checkpoint.signatureValid ? (
        <div className="notice warn" style={{ margin: '8px 0 0' }}>
          The retention checkpoint&apos;s signature does not verify.
        </div>
      ) : null}
      <div className="muted small mono" style={{ wordBreak: 'break-all' }} title="Hash of the newest event">
        head {r.headHash}
      </div>
    </div>
  );
}
