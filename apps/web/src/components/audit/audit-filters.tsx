'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import styles from './audit.module.css';
import { queryString } from './filters';
import { type AuditFilters, DECISIONS, METHODS, OUTCOMES } from './model';

/** `2026-03-01T10:00` (a datetime-local value, read as UTC) ⇄ ISO instant. */
const toInput = (iso?: string) => (iso ? new Date(iso).toISOString().slice(0, 16) : '');
const fromInput = (v: string) => (v ? new Date(`${v.length === 16 ? `${v}:00` : v}Z`).toISOString() : '');

const QUICK = [
  { label: 'Last hour', ms: 3_600_000 },
  { label: 'Last 24 hours', ms: 86_400_000 },
  { label: 'Last 7 days', ms: 7 * 86_400_000 },
] as const;

/**
 * The log's filters. They live in the URL (shareable, back button works): applying navigates to
 * `?decision=deny&…` and the server component fetches with them.
 */
export function AuditFiltersForm({
  base,
  filters,
  keys,
  servers,
}: {
  base: string;
  filters: AuditFilters;
  keys: { id: string; name: string }[];
  servers: { id: string; name: string }[];
}) {
  const router = useRouter();
  const [v, setV] = useState({
    from: toInput(filters.from),
    to: toInput(filters.to),
    keyId: filters.keyId ?? '',
    serverId: filters.serverId ?? '',
    target: filters.target ?? '',
    method: filters.method ?? '',
    decision: filters.decision ?? '',
    outcome: filters.outcome ?? '',
  });
  const [error, setError] = useState<string | null>(null);
  const set = (k: keyof typeof v) => (e: { target: { value: string } }) => setV({ ...v, [k]: e.target.value });

  const from = fromInput(v.from);
  const to = fromInput(v.to);
  const rangeError = from && to && Date.parse(from) >= Date.parse(to) ? 'The end must be after the start.' : null;

  function go(next: typeof v) {
    router.push(
      `${base}${queryString({
        from: fromInput(next.from) || undefined,
        to: fromInput(next.to) || undefined,
        keyId: next.keyId || undefined,
        serverId: next.serverId || undefined,
        target: next.target.trim() || undefined,
        method: next.method.trim() || undefined,
        decision: next.decision || undefined,
        outcome: next.outcome || undefined,
      })}`,
    );
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    if (rangeError) return setError(rangeError);
    if (v.target.length > 2000) return setError('The tool name is too long.');
    if (v.method.length > 200) return setError('The method is too long.');
    setError(null);
    go(v);
  }

  function quick(ms: number) {
    const next = { ...v, from: new Date(Date.now() - ms).toISOString().slice(0, 16), to: '' };
    setV(next);
    setError(null);
    go(next);
  }

  return (
    <form onSubmit={submit} noValidate aria-label="Filter audit events" className="stack">
      {error ? (
        <div className="notice error" role="alert">
          {error}
        </div>
      ) : null}
      <div className={styles.filters}>
        <label className="field">
          <span>From (UTC)</span>
          <input type="datetime-local" name="from" value={v.from} onChange={set('from')} />
        </label>
        <label className="field">
          <span>To (UTC)</span>
          <input
            type="datetime-local"
            name="to"
            value={v.to}
            onChange={set('to')}
            aria-invalid={rangeError ? true : undefined}
            aria-describedby={rangeError ? 'audit-range-error' : undefined}
          />
          {rangeError ? (
            <span className="field-error" id="audit-range-error">
              {rangeError}
            </span>
          ) : null}
        </label>
        <label className="field">
          <span>Key</span>
          <select name="keyId" value={v.keyId} onChange={set('keyId')}>
            <option value="">Any key</option>
            {keys.map((k) => (
              <option key={k.id} value={k.id}>
                {k.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Server</span>
          <select name="serverId" value={v.serverId} onChange={set('serverId')}>
            <option value="">Any server</option>
            {servers.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Tool, prompt or resource</span>
          <input name="target" value={v.target} onChange={set('target')} placeholder="e.g. echo" maxLength={2000} />
        </label>
        <label className="field">
          <span>Method</span>
          <input
            name="method"
            value={v.method}
            onChange={set('method')}
            list="audit-methods"
            placeholder="e.g. tools/call"
            maxLength={200}
          />
          <datalist id="audit-methods">
            {METHODS.map((m) => (
              <option key={m} value={m} />
            ))}
          </datalist>
        </label>
        <label className="field">
          <span>Decision</span>
          <select name="decision" value={v.decision} onChange={set('decision')}>
            <option value="">Any decision</option>
            {DECISIONS.map((d) => (
              <option key={d} value={d}>
                {d.replace(/_/g, ' ')}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Outcome</span>
          <select name="outcome" value={v.outcome} onChange={set('outcome')}>
            <option value="">Any outcome</option>
            {OUTCOMES.map((o) => (
              <option key={o} value={o}>
                {o.replace(/_/g, ' ')}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="row">
        <button type="submit" className="btn primary">
          Apply filters
        </button>
        <button
          type="button"
          className="btn"
          onClick={() => {
            setError(null);
            router.push(base);
          }}
        >
          Clear
        </button>
        <span className="spacer" />
        <span className={styles.quick}>
          <span className="muted small">Quick range:</span>
          {QUICK.map((q) => (
            <button key={q.label} type="button" className="btn small" onClick={() => quick(q.ms)}>
              {q.label}
            </button>
          ))}
        </span>
      </div>
    </form>
  );
}
