'use client';

import { useRouter } from 'next/navigation';
import { useEffect, useRef, useState } from 'react';
import { ConfirmButton } from '@/components/client-ui';
import { call, errorMessage } from '@/lib/client';
import { ApiError } from '@/lib/problem';
import css from './servers.module.css';
import type { ServerView } from '@toolgate/contracts';

/**
 * Connects to the server for real (POST …/probe) and refreshes the catalogue. A probe can take
 * many seconds (a stdio server is started, an HTTP one may be slow), so the elapsed time is shown.
 * `auto` starts one probe as soon as the page shows (a server never probed, e.g. just registered).
 */
export function ProbeButton({ org, id, primary, auto }: { org: string; id: string; primary?: boolean; auto?: boolean }) {
  const router = useRouter();
  const [startedAt, setStartedAt] = useState<number | null>(null);
  const [elapsed, setElapsed] = useState(0);
  const [result, setResult] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);

  useEffect(() => {
    if (startedAt === null) return;
    const t = setInterval(() => setElapsed(Math.floor((Date.now() - startedAt) / 1000)), 250);
    return () => clearInterval(t);
  }, [startedAt]);

  const autoStarted = useRef(false);
  // biome-ignore lint/correctness/useExhaustiveDependencies: once per mount, not on every render's new probe()
  useEffect(() => {
    if (!auto || autoStarted.current) return;
    autoStarted.current = true;
    void probe();
  }, [auto]);

  async function probe() {
    setResult(null);
    setElapsed(0);
    setStartedAt(Date.now());
    try {
      const s = await call<ServerView>('POST', `/v1/orgs/${org}/servers/${id}/probe`);
      const c = s.catalog;
      const n = (k: number, w: string) => `${k} ${w}${k === 1 ? '' : 's'}`;
      setResult({
        kind: 'ok',
        text: c
          ? `Probe succeeded: ${n(c.tools.length, 'tool')}, ${n(c.prompts.length, 'prompt')}, ${n(c.resources.length, 'resource')}.`
          : 'Probe succeeded.',
      });
    } catch (err) {
      // A probe that ran and failed is stored on the server, and the refreshed page states it
      // beside when it ran: saying it here too showed the same error twice.
      const stored = err instanceof ApiError && err.problem.code === 'probe_failed';
      setResult(stored ? null : { kind: 'error', text: `Probe failed: ${errorMessage(err)}` });
    } finally {
      setStartedAt(null);
      // The outcome (catalogue or error) is stored either way.
      router.refresh();
    }
  }

  const busy = startedAt !== null;
  return (
    <div className="stack" style={{ gap: 6 }}>
      <div className="row">
        <button type="button" className={`btn${primary ? ' primary' : ''}`} onClick={probe} disabled={busy} aria-busy={busy}>
          {busy ? 'Probing…' : 'Probe'}
        </button>
        {busy ? (
          <div className={`row ${css.probeProgress}`} role="status" aria-live="polite" data-testid="probe-progress">
            <div className="progress" style={{ flex: 1, minWidth: 80 }} aria-hidden="true">
              <span className={css.indeterminate} />
            </div>
            <span className="muted small">Connecting and listing tools… {elapsed} s</span>
          </div>
        ) : null}
      </div>
      {result ? (
        <div
          className={`notice ${result.kind}`}
          role={result.kind === 'error' ? 'alert' : 'status'}
          style={{ marginBottom: 0 }}
          data-testid="probe-result"
        >
          {result.text}
        </div>
      ) : null}
    </div>
  );
}

/** Enable or disable the server for agents (PATCH {enabled}). */
export function EnabledSwitch({ org, id, enabled }: { org: string; id: string; enabled: boolean }) {
  const router = useRouter();
  const [value, setValue] = useState(enabled);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setValue(enabled), [enabled]);

  async function toggle() {
    const next = !value;
    setBusy(true);
    setError(null);
    setValue(next);
    try {
      await call('PATCH', `/v1/orgs/${org}/servers/${id}`, { enabled: next });
      router.refresh();
    } catch (err) {
      setValue(!next);
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <span className="row" style={{ gap: 6 }}>
      <button
        type="button"
        role="switch"
        aria-checked={value}
        aria-label="Enabled"
        className={`btn ${value ? '' : 'ghost'}`}
        onClick={toggle}
        disabled={busy}
      >
        <span
          aria-hidden="true"
          style={{
            display: 'inline-block',
            width: 28,
            height: 16,
            borderRadius: 999,
            background: value ? 'var(--ok)' : '#c3c8d2',
            position: 'relative',
            transition: 'background 0.15s',
          }}
        >
          <span
            style={{
              position: 'absolute',
              top: 2,
              left: value ? 14 : 2,
              width: 12,
              height: 12,
              borderRadius: '50%',
              background: '#fff',
              transition: 'left 0.15s',
            }}
          />
        </span>
        {value ? 'Enabled' : 'Disabled'}
      </button>
      {error ? (
        <span className="field-error small" role="alert" style={{ color: 'var(--danger)' }}>
          {error}
        </span>
      ) : null}
    </span>
  );
}

export function DeleteServer({ org, id, slug }: { org: string; id: string; slug: string }) {
  const router = useRouter();
  return (
    <ConfirmButton
      className="btn danger"
      title="Delete this server?"
      confirmLabel="Delete server"
      confirmText={slug}
      body={
        <p className="muted" style={{ margin: 0 }}>
          Agents lose its tools at once, and roles that name it stop matching it. Secrets it used are kept.
        </p>
      }
      onConfirm={async () => {
        try {
          await call('DELETE', `/v1/orgs/${org}/servers/${id}`);
        } catch (err) {
          throw new Error(errorMessage(err));
        }
        router.push(`/o/${org}/servers`);
        router.refresh();
      }}
    >
      Delete
    </ConfirmButton>
  );
}
