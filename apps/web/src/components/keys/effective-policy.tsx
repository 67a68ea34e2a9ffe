import type { EffectiveItem, EffectivePolicy, EffectiveServer } from '@toolgate/contracts/src/effective-policy';
import { Badge, Card, formatDate } from '@/components/ui';

type Kind = 'tools' | 'prompts' | 'resources';
const KINDS: Kind[] = ['tools', 'prompts', 'resources'];

/** `path: pattern ^/tmp/, required` — one argument's conditions, in the rule's own words. */
function describeConstraints(constraints: NonNullable<EffectiveItem['constraints']>): string {
  return Object.entries(constraints)
    .map(
      ([arg, c]) =>
        `${arg}: ${Object.entries(c)
          .map(([k, v]) => (v === true ? k : `${k} ${JSON.stringify(v)}`))
          .join(', ')}`,
    )
    .join('; ');
}

function ItemRow({ kind, item }: { kind: Kind; item: EffectiveItem }) {
  return (
    <li data-access={item.access}>
      <code>{item.name}</code> {kind !== 'tools' ? <span className="muted small">({kind.slice(0, -1)})</span> : null}{' '}
      {item.access === 'allowed' ? <Badge kind="ok">allowed</Badge> : null}
      {item.access === 'constrained' ? <Badge kind="warn">only with {describeConstraints(item.constraints ?? {})}</Badge> : null}
      {item.access === 'denied' ? <Badge kind="danger">denied</Badge> : null}{' '}
      <span className="muted small">{item.rule ?? item.reason}</span>
    </li>
  );
}

function ServerSection({ server }: { server: EffectiveServer }) {
  const items = KINDS.flatMap((kind) => server[kind].map((item) => ({ kind, item })));
  // Allowed first, then those allowed with the right arguments; denied ones stay folded away.
  const open = [...items.filter((i) => i.item.access === 'allowed'), ...items.filter((i) => i.item.access === 'constrained')];
  const denied = items.filter((i) => i.item.access === 'denied');
  return (
    <section data-server={server.slug} className="stack" style={{ gap: 4 }}>
      <h3 style={{ margin: 0 }}>
        {server.name} <span className="muted small">{server.slug}</span>
      </h3>
      {server.catalogFetchedAt === null ? (
        <p className="muted small" style={{ margin: 0 }}>
          Not probed yet: probe the server to see its tools.
        </p>
      ) : (
        <>
          {open.length ? (
            <ul style={{ margin: 0 }}>
              {open.map(({ kind, item }) => (
                <ItemRow key={`${kind}:${item.name}`} kind={kind} item={item} />
              ))}
            </ul>
          ) : (
            <p className="muted small" style={{ margin: 0 }}>
              Nothing on this server is allowed.
            </p>
          )}
          {denied.length ? (
            <details>
              <summary className="small">{denied.length} denied</summary>
              <ul style={{ margin: 0 }}>
                {denied.map(({ kind, item }) => (
                  <ItemRow key={`${kind}:${item.name}`} kind={kind} item={item} />
                ))}
              </ul>
            </details>
          ) : null}
          <p className="muted small" style={{ margin: 0 }}>
            Catalogue as probed {formatDate(server.catalogFetchedAt)}.
          </p>
        </>
      )}
    </section>
  );
}

/** "What this key can call": the API's per-item decisions for the key, grouped by server. */
export function EffectivePolicyCard({ policy }: { policy: EffectivePolicy }) {
  return (
    <Card title="What this key can call" id="effective-policy">
      {policy.status !== 'active' ? (
        <p className="muted" style={{ margin: 0 }}>
          This key is {policy.status}: the gateway refuses every call.
        </p>
      ) : policy.servers.length === 0 ? (
        <p className="muted" style={{ margin: 0 }}>
          No enabled servers.
        </p>
      ) : (
        <div className="stack">
          <p className="muted small" style={{ margin: 0 }}>
            Decided by the current policy for calls without arguments; argument constraints are checked on each call.
          </p>
          {policy.servers.map((s) => (
            <ServerSection key={s.id} server={s} />
          ))}
        </div>
      )}
    </Card>
  );
}
