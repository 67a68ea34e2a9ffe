import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import type { ReactNode } from 'react';
import styles from '@/components/audit/audit.module.css';
import { DecisionBadge, formatBytes, formatLatency, OutcomeBadge } from '@/components/audit/format';
import type { AuditRecord } from '@toolgate/contracts';
import { CopyButton } from '@/components/client-ui';
import { ActivityDiff } from '@/components/settings/activity-diff';
import { type ActivityRow, fieldChanges, targetLabel as recordedName } from '@/components/settings/activity-format';
import { NO_NAMES, resolveTarget, splitAdminTarget, type TargetNames } from '@/components/targets';
import { Badge, Card, formatDate, PageHeader, ScrollPre } from '@/components/ui';
import { api, apiResult } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

/** Admin targets with a page of their own, by the API path that reads one. */
const THING_PATHS: Record<string, keyof TargetNames> = { server: 'servers', key: 'keys', role: 'roles' };

export const metadata: Metadata = { title: 'Audit event' };

const json = (v: unknown) => JSON.stringify(v, null, 2);

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

const none = <span className="muted">—</span>;

export default async function AuditEventPage({ params }: { params: Promise<{ org: string; id: string }> }) {
  const { org: slug, id } = await params;
  const { org: membership } = await getMembership(slug);
  if (!membership || !can.read(membership.role)) forbidden();
  const o = encodeURIComponent(membership.slug);
  const e = await api<AuditRecord>(`/v1/orgs/${o}/audit/${encodeURIComponent(id)}`);
  const admin = e.kind === 'admin';
  const base = `/o/${membership.slug}`;

  // Names for ids; the event stays readable if a lookup fails (a deleted key, say).
  const changed = admin ? splitAdminTarget(e.target) : null;
  const thingPath = changed?.id ? THING_PATHS[changed.type] : undefined;
  const [key, members, thing] = await Promise.all([
    e.keyId && !e.oauth ? apiResult<{ id: string; name: string; prefix: string; status: string }>(`/v1/orgs/${o}/keys/${e.keyId}`) : null,
    admin ? apiResult<{ items: { userId: string; name: string; email: string }[] }>(`/v1/orgs/${o}/members`) : null,
    thingPath ? apiResult<{ name: string }>(`/v1/orgs/${o}/${thingPath}/${encodeURIComponent(changed!.id!)}`) : null,
  ]);
  const actor = members?.ok ? members.data.items.find((m) => m.userId === e.actorId) : undefined;
  const p = e.payload;
  // An admin action's target by its current name and page (while it exists), else as recorded.
  const names: TargetNames = {
    ...NO_NAMES,
    members: Object.fromEntries(members?.ok ? members.data.items.map((m) => [m.userId, m.email]) : []),
    ...(thingPath && thing?.ok ? { [thingPath]: { [changed!.id!]: thing.data.name } } : {}),
  };
  const target = changed ? resolveTarget(membership.slug, changed.type, changed.id, names) : null;
  const targetName = changed
    ? (target?.name ?? recordedName({ ...(p as unknown as ActivityRow), targetType: changed.type, targetId: changed.id }, new Map()))
    : null;
  const targetLabel = e.method.startsWith('prompts/')
    ? 'Prompt'
    : e.method.startsWith('resources/')
      ? 'Resource'
      : admin
        ? 'Target'
        : 'Tool';

  return (
    <>
      <p style={{ margin: '0 0 8px' }}>
        <Link href={`${base}/audit`}>← Audit log</Link>
      </p>
      <PageHeader
        title={`${admin && targetName ? `${e.method} ${targetName}` : (e.target ?? e.method)} · event #${e.seq}`}
        description={`${admin ? 'Admin action' : 'Gateway call'} at ${formatDate(e.at)}`}
        actions={
          <>
            <DecisionBadge decision={e.decision} />
            <OutcomeBadge outcome={e.outcome} />
          </>
        }
      />
      <div className="grid" style={{ gridTemplateColumns: 'repeat(auto-fit, minmax(min(100%, 420px), 1fr))', marginBottom: 16 }}>
        <Card title="What happened" id="what">
          <dl className={styles.details} data-testid="audit-detail">
            {admin ? (
              <Field label="Who">
                {actor ? (
                  `${actor.name} <${actor.email}>`
                ) : e.actorId ? (
                  <span className="mono">{e.actorId}</span>
                ) : e.actorToken ? null : (
                  'system'
                )}
                {e.actorToken ? (
                  <div data-testid="audit-actor-token">
                    with {e.actorToken.kind === 'service_account' ? 'service account' : 'personal token'} {e.actorToken.name}{' '}
                    <span className="mono muted">{e.actorToken.prefix}…</span>
                  </div>
                ) : null}
              </Field>
            ) : e.oauth ? (
              <Field label="OAuth app">
                <span data-testid="audit-oauth">
                  {e.oauth.clientName} <span className="muted">consented by {e.oauth.userEmail}</span>
                </span>{' '}
                <Link href={`${base}/apps`}>Connected apps</Link>
              </Field>
            ) : (
              <Field label="Key">
                {e.keyId ? (
                  key?.ok ? (
                    <>
                      <Link href={`${base}/keys/${e.keyId}`}>{key.data.name}</Link> <span className="mono muted">{key.data.prefix}…</span>
                      {key.data.status !== 'active' ? (
                        <>
                          {' '}
                          <Badge kind="warn">{key.data.status}</Badge>
                        </>
                      ) : null}
                    </>
                  ) : (
                    <span className="mono">{e.keyId}</span>
                  )
                ) : (
                  <span className="muted">no key (unauthenticated)</span>
                )}
              </Field>
            )}
            {admin ? null : (
              <Field label="Server">
                {e.serverId ? <Link href={`${base}/servers/${e.serverId}`}>{e.serverSlug ?? e.serverId}</Link> : (e.serverSlug ?? none)}
              </Field>
            )}
            <Field label="Method">
              <span className="mono">{e.method}</span>
            </Field>
            <Field label={targetLabel}>
              {admin && targetName ? (
                <>
                  {target?.href ? (
                    <Link href={target.href} data-testid="audit-admin-target">
                      {targetName}
                    </Link>
                  ) : (
                    <span data-testid="audit-admin-target">{targetName}</span>
                  )}{' '}
                  <span className="mono muted small">{e.target}</span>
                </>
              ) : e.target ? (
                <span className="mono">{e.target}</span>
              ) : (
                none
              )}
            </Field>
            <Field label="Decision">
              <DecisionBadge decision={e.decision} />{' '}
              {e.rule ? <span className="mono">{e.rule}</span> : <span className="muted">no rule matched (default)</span>}
            </Field>
            <Field label="Outcome">
              <OutcomeBadge outcome={e.outcome} /> {e.error ? <span data-testid="audit-error">{e.error}</span> : null}
            </Field>
            {admin ? null : (
              <>
                <Field label="Latency">{formatLatency(e.latencyMs)}</Field>
                <Field label="Bytes in / out">
                  {formatBytes(e.bytesIn)} / {formatBytes(e.bytesOut)}
                </Field>
                <Field label="Client">{e.clientName ? `${e.clientName}${e.clientVersion ? ` ${e.clientVersion}` : ''}` : none}</Field>
                <Field label="Session">{e.sessionId ? <span className="mono">{e.sessionId}</span> : none}</Field>
                <Field label="IP address">{e.ip ?? none}</Field>
              </>
            )}
            <Field label="Time (gateway)">{formatDate(e.at)}</Field>
            <Field label="Received">{formatDate(e.receivedAt)}</Field>
          </dl>
        </Card>
        <Card title="Hash chain" id="chain">
          <dl className={styles.details}>
            <Field label="Sequence">
              <span data-testid="audit-seq">#{e.seq}</span>
            </Field>
            <Field label="Event id">
              <span className={styles.hash}>{e.id}</span>
            </Field>
            <Field label="Previous hash">
              <span className={styles.hash} data-testid="audit-prev-hash">
                {e.prevHash}
              </span>
            </Field>
            <Field label="Hash">
              <span className={styles.hash} data-testid="audit-hash">
                {e.hash}
              </span>{' '}
              <CopyButton value={e.hash} label="Copy hash" />
            </Field>
          </dl>
          <p className="muted small" style={{ marginBottom: 0 }}>
            hash = sha256(previous hash ‖ canonical JSON of the payload below). Changing anything in this event, or removing it, breaks
            every link after it.
          </p>
        </Card>
      </div>
      {admin && fieldChanges(p.before, p.after).length ? (
        <Card title="Changes" id="changes">
          <div className="table-wrap">
            <ActivityDiff changes={fieldChanges(p.before, p.after)} />
          </div>
        </Card>
      ) : null}
      {admin ? (
        <div className="grid" style={{ gridTemplateColumns: 'repeat(auto-fit, minmax(min(100%, 420px), 1fr))', marginBottom: 16 }}>
          <Card title="Before">
            <ScrollPre className={styles.json}>{json(p.before ?? null)}</ScrollPre>
          </Card>
          <Card title="After">
            <ScrollPre className={styles.json}>{json(p.after ?? null)}</ScrollPre>
          </Card>
        </div>
      ) : (
        <Card title="Arguments" id="arguments">
          <p className="muted small" style={{ marginTop: 0 }}>
            As stored, after the role&apos;s redaction rules and secret masking.
          </p>
          {p.arguments === undefined ? (
            <span className="muted">No arguments.</span>
          ) : (
            <ScrollPre className={styles.json} data-testid="audit-arguments">
              {json(p.arguments)}
            </ScrollPre>
          )}
        </Card>
      )}
      <Card>
        <details>
          <summary>Payload as hashed</summary>
          <ScrollPre className={styles.json} style={{ marginTop: 12 }}>
            {json(p)}
          </ScrollPre>
        </details>
      </Card>
    </>
  );
}
