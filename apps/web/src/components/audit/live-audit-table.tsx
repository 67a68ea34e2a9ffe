'use client';

import Link from 'next/link';
import { useCallback, useEffect, useRef, useState } from 'react';
import { Empty } from '@/components/ui';
import { call, errorMessage } from '@/lib/client';
import { ApiError } from '@/lib/problem';
import styles from './audit.module.css';
import { matches, queryString } from './filters';
import { DecisionBadge, formatLatency, formatTime, OutcomeBadge } from './format';
import type { AuditPage } from '@toolgate/contracts';
import { resolveTarget, splitAdminTarget, type TargetNames } from '@/components/targets';
import type { AuditFilters, AuditRow } from './model';

/** Window event with the number of events appended to the chain (ChainStatus listens). */
export const APPENDED_EVENT = 'tg:audit-appended';
/** Rows kept in the table while live events pile up (older ones are a page away). */
const MAX_ROWS = 500;
/** Reconnect backoff: 1 s, 2 s, 4 s … up to 30 s, with jitter. */
const BACKOFF_MAX_MS = 30_000;
/** After this many failed attempts in a row the fallback message is shown. */
const FALLBACK_AFTER = 2;

type LiveState =
  | { state: 'connecting' }
  | { state: 'live' }
  | { state: 'retrying'; attempt: number; at: number; reason: string }
  | { state: 'off'; reason: string };

interface Ticket {
  ticket: string;
  url: string;
  expiresIn: number;
}

type Frame = { type: 'ready' } | { type: 'audit'; events: AuditRow[]; omitted: number } | { type: string };

/** Newest first by seq, each event once, at most MAX_ROWS. */
function merge(current: AuditRow[], incoming: AuditRow[]): AuditRow[] {
  const seen = new Set(current.map((r) => r.id));
  const fresh = incoming.filter((r) => !seen.has(r.id));
  if (fresh.length === 0) return current;
  return [...fresh, ...current].sort((a, b) => b.seq - a.seq).slice(0, MAX_ROWS);
}

/**
 * The audit table. On the newest page (`live`), it opens the live WebSocket: a single-use ticket
 * from the API (through the BFF), then `new WebSocket(url?ticket=…)` straight to the API, and
 * prepends matching events as they are appended to the chain. Each (re)connect also fetches the
 * newest page, so events appended while the socket was down are not missed. Reconnects with
 * backoff; a 4403 close (role or origin refused) stops trying.
 */
export function LiveAuditTable({
  org,
  initial,
  filters,
  lookups,
  live,
  filtered,
}: {
  org: string;
  initial: AuditRow[];
  filters: AuditFilters;
  lookups: TargetNames;
  live: boolean;
  filtered: boolean;
}) {
  const [rows, setRows] = useState<AuditRow[]>(initial);
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [status, setStatus] = useState<LiveState>({ state: 'connecting' });
  const [omitted, setOmitted] = useState(0);
  const [now, setNow] = useState(() => Date.now());
  const filtersRef = useRef(filters);
  filtersRef.current = filters;

  const add = useCallback((incoming: AuditRow[]) => {
    const wanted = incoming.filter((e) => matches(e, filtersRef.current));
    if (wanted.length === 0) return;
    setRows((cur) => merge(cur, wanted));
    setFresh((cur) => new Set([...cur, ...wanted.map((e) => e.id)]));
  }, []);

  useEffect(() => {
    if (!live) return;
    let stopped = false;
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;

    const retry = (reason: string) => {
      if (stopped) return;
      attempt += 1;
      const delay = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4);
      setStatus({ state: 'retrying', attempt, at: Date.now() + delay, reason });
      timer = setTimeout(open, delay);
    };

    /** The newest page, to cover what happened before the socket was ready. */
    const catchUp = async () => {
      try {
        const page = await call<AuditPage>(
          'GET',
          `/v1/orgs/${encodeURIComponent(org)}/audit${queryString(filtersRef.current, { limit: '50' })}`,
        );
        if (!stopped) add(page.items);
      } catch {
        // The live feed still works; the next reconnect catches up again.
      }
    };

    async function open() {
      if (stopped) return;
      setStatus((s) => (s.state === 'retrying' ? s : { state: 'connecting' }));
      let ticket: Ticket;
      try {
        ticket = await call<Ticket>('POST', `/v1/orgs/${encodeURIComponent(org)}/audit/live-ticket`);
      } catch (e) {
        if (e instanceof ApiError && (e.status === 403 || e.status === 404)) {
          setStatus({ state: 'off', reason: errorMessage(e) });
          return;
        }
        return retry(errorMessage(e));
      }
      if (stopped) return;
      let ws: WebSocket;
      try {
        ws = new WebSocket(`${ticket.url}?ticket=${encodeURIComponent(ticket.ticket)}`);
      } catch {
        return retry('The live address is not reachable from this browser.');
      }
      socket = ws;
      ws.onmessage = (m) => {
        let frame: Frame;
        try {
          frame = JSON.parse(String(m.data)) as Frame;
        } catch {
          return;
        }
        if (frame.type === 'ready') {
          attempt = 0;
          setStatus({ state: 'live' });
          void catchUp();
        } else if (frame.type === 'audit' && 'events' in frame) {
          add(frame.events);
          window.dispatchEvent(new CustomEvent(APPENDED_EVENT, { detail: frame.events.length + frame.omitted }));
          if (frame.omitted > 0) setOmitted((n) => n + frame.omitted);
        }
      };
      ws.onclose = (e) => {
        if (socket !== ws || stopped) return;
        socket = null;
        if (e.code === 4403) setStatus({ state: 'off', reason: 'The API refused live updates for this page.' });
        else retry(e.code === 1001 ? 'The API is restarting.' : 'The connection to the API was lost.');
      };
    }

    // Coming back online: try at once instead of waiting out the backoff.
    const online = () => {
      if (socket || stopped) return;
      clearTimeout(timer);
      void open();
    };
    window.addEventListener('online', online);
    void open();
    return () => {
      stopped = true;
      clearTimeout(timer);
      window.removeEventListener('online', online);
      socket?.close(1000);
    };
  }, [org, live, add]);

  // A countdown for the retry message.
  useEffect(() => {
    if (status.state !== 'retrying') return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [status.state]);

  return (
    <>
      <div className="row" style={{ marginBottom: 12 }}>
        <LiveIndicator live={live} status={status} />
        <span className="spacer" />
        <span className="muted small">Times in UTC · newest first</span>
      </div>
      {live && status.state === 'retrying' && status.attempt >= FALLBACK_AFTER ? (
        <div className="notice warn" role="status" data-testid="live-fallback">
          Live updates are not available right now: {status.reason} Trying again in {Math.max(1, Math.ceil((status.at - now) / 1000))} s.
          New events are still recorded; reload the page to see them.
        </div>
      ) : null}
      {live && status.state === 'off' ? (
        <div className="notice warn" role="status" data-testid="live-fallback">
          Live updates are off: {status.reason} Reload the page to see new events.
        </div>
      ) : null}
      {omitted > 0 ? (
        <div className="notice info" role="status">
          {omitted} more event{omitted === 1 ? '' : 's'} arrived at once than the live view shows.{' '}
          <Link href={`/o/${org}/audit${queryString(filters)}`}>Reload the list</Link> to see them all.
        </div>
      ) : null}
      {rows.length === 0 ? (
        <Empty title={filtered ? 'No events match these filters' : 'No audit events yet'}>
          <p className="muted" style={{ margin: 0 }}>
            {filtered
              ? 'Change or clear the filters to see more.'
              : live
                ? 'Calls through the gateway and admin actions appear here as they happen.'
                : 'There is nothing older.'}
          </p>
        </Empty>
      ) : (
        <AuditTable org={org} rows={rows} lookups={lookups} fresh={fresh} />
      )}
    </>
  );
}

function LiveIndicator({ live, status }: { live: boolean; status: LiveState }) {
  if (!live) {
    return (
      <span className="badge" data-testid="live-status" data-state="paused">
        Live updates paused on older pages
      </span>
    );
  }
  const [kind, text, pulse] =
    status.state === 'live'
      ? ['ok', 'Live', true]
      : status.state === 'connecting'
        ? ['info', 'Connecting…', false]
        : status.state === 'retrying'
          ? ['warn', 'Reconnecting…', false]
          : ['', 'Live updates off', false];
  return (
    <span className={`badge ${kind}`} data-testid="live-status" data-state={status.state} role="status" aria-live="polite">
      <span className={`${styles.dot} ${pulse ? styles.pulse : ''}`} aria-hidden="true" />
      {text}
    </span>
  );
}

export function AuditTable({
  org,
  rows,
  lookups,
  fresh,
}: {
  org: string;
  rows: AuditRow[];
  lookups: TargetNames;
  fresh?: ReadonlySet<string>;
}) {
  return (
    <div className="table-wrap">
      <table data-testid="audit-table" className={styles.table}>
        <thead>
          <tr>
            <th>Time (UTC)</th>
            <th>Call</th>
            <th>Key</th>
            <th>Server</th>
            <th>Decision</th>
            <th>Outcome</th>
            <th style={{ textAlign: 'right' }}>Latency</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr
              key={r.id}
              data-testid="audit-row"
              data-id={r.id}
              data-target={r.target ?? ''}
              data-decision={r.decision}
              className={fresh?.has(r.id) ? styles.fresh : undefined}
            >
              <td className={styles.nowrap}>
                <Link href={`/o/${org}/audit/${r.id}`} aria-label={`Event #${r.seq} at ${formatTime(r.at)} UTC`}>
                  {formatTime(r.at)}
                </Link>
                <div className="muted small">#{r.seq}</div>
              </td>
              <td>
                <div className={styles.call}>
                  <span className={styles.target}>
                    {r.kind === 'admin' ? (
                      <AdminTarget org={org} target={r.target} names={lookups} />
                    ) : (
                      (r.target ?? <span className="muted">—</span>)
                    )}
                  </span>
                  <span className="muted small">{r.method}</span>
                </div>
              </td>
              <td>
                {r.kind === 'admin' ? (
                  <span className="badge info">admin action</span>
                ) : r.oauth ? (
                  <span title={`OAuth grant ${r.keyId}`}>
                    {r.oauth.clientName} <span className="muted small">via {r.oauth.userEmail}</span>
                  </span>
                ) : r.keyId ? (
                  lookups.keys[r.keyId] ? (
                    <Link href={`/o/${org}/keys/${r.keyId}`}>{lookups.keys[r.keyId]}</Link>
                  ) : (
                    <span title={r.keyId} className="muted">
                      Deleted key <span className="mono">{r.keyId.slice(0, 8)}…</span>
                    </span>
                  )
                ) : (
                  <span className="muted">no key</span>
                )}
                {r.clientName ? <div className="muted small">{r.clientName}</div> : null}
              </td>
              <td>
                {r.serverId && lookups.servers[r.serverId] ? (
                  <Link href={`/o/${org}/servers/${r.serverId}`}>{r.serverSlug ?? lookups.servers[r.serverId]}</Link>
                ) : (
                  (r.serverSlug ?? (r.serverId ? r.serverId.slice(0, 8) : <span className="muted">—</span>))
                )}
              </td>
              <td>
                <DecisionBadge decision={r.decision} />
              </td>
              <td>
                <OutcomeBadge outcome={r.outcome} />
              </td>
              <td className={styles.nowrap} style={{ textAlign: 'right' }}>
                {r.kind === 'admin' ? <span className="muted">—</span> : formatLatency(r.latencyMs)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** An admin action's target (`key:<id>`…) by its current name, linked to where it is shown. */
function AdminTarget({ org, target, names }: { org: string; target: string | null; names: TargetNames }) {
  const t = splitAdminTarget(target);
  if (!t) return <span className="muted">—</span>;
  const { name, href } = resolveTarget(org, t.type, t.id, names);
  const label = name ?? (t.id ? `${t.type.replace(/_/g, ' ')} ${t.id.slice(0, 8)}…` : t.type.replace(/_/g, ' '));
  return href ? (
    <Link href={href} data-testid="audit-admin-target">
      {label}
    </Link>
  ) : (
    <span data-testid="audit-admin-target">{label}</span>
  );
}
