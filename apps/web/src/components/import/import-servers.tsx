'use client';

// The file, not the package index: the index pulls node:crypto into the browser bundle.
import { type ImportCandidate, type ImportedValue, parseClientConfig, registration } from '@toolgate/contracts/src/client-config-import';
import { Slug } from '@toolgate/contracts/src/slug';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { Badge } from '@/components/ui';
import { call, errorMessage } from '@/lib/client';
import { ApiError } from '@/lib/problem';

type RowState =
  | { status: 'idle' }
  | { status: 'working' }
  | { status: 'done'; id: string }
  /** `slug` is the error of the URL name (shown on that field); `message` and `fields` everything else. */
  | { status: 'failed'; message: string | null; fields: string[]; slug?: string };

interface Row {
  c: ImportCandidate;
  selected: boolean;
  state: RowState;
}

const SAMPLE = `{
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": { "GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_…" }
    },
    "weather": { "url": "https://weather.example.com/mcp" }
  }
}`;

/**
 * Paste or upload a client's MCP config, preview the servers it would register, pick some, and
 * register them one by one through the normal server API. Credentials go into org secrets first
 * (see parseClientConfig); a row that fails keeps its error and stays selected for another try,
 * and the rows that succeeded are not sent again.
 */
export function ImportServers({ org, secretNames }: { org: string; secretNames: string[] }) {
  const router = useRouter();
  const [text, setText] = useState('');
  const [parseError, setParseError] = useState<string | null>(null);
  const [rows, setRows] = useState<Row[] | null>(null);
  /** Values typed for placeholder secrets the org does not have yet, by secret name. */
  const [values, setValues] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  function preview(source = text) {
    const r = parseClientConfig(source, secretNames);
    if (!r.ok) {
      setParseError(r.error);
      setRows(null);
      return;
    }
    setParseError(null);
    setValues({});
    setRows(r.servers.map((c) => ({ c, selected: c.problems.length === 0, state: { status: 'idle' } })));
  }

  const update = (i: number, patch: (r: Row) => Row) => setRows((rs) => rs?.map((r, j) => (j === i ? patch(r) : r)) ?? null);

  async function importSelected(e: FormEvent) {
    e.preventDefault();
    if (!rows) return;
    setBusy(true);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      if (!row.selected || row.state.status === 'done' || row.c.problems.length > 0) continue;
      update(i, (r) => ({ ...r, state: { status: 'working' } }));
      const state = await register(row.c);
      update(i, (r) => ({ ...r, state, selected: state.status !== 'done' }));
    }
    setBusy(false);
    router.refresh();
  }

  async function register(c: ImportCandidate): Promise<RowState> {
    const slugCheck = Slug.safeParse(c.slug);
    if (!slugCheck.success) return { status: 'failed', message: null, fields: [], slug: `URL name ${slugCheck.error.issues[0]?.message}.` };
    const { body, secrets, missing } = registration(c);
    const unfilled = missing.filter((name) => !values[name]);
    if (unfilled.length > 0) return { status: 'failed', message: `Enter a value for ${unfilled.join(', ')} first.`, fields: [] };
    const path = `/v1/orgs/${encodeURIComponent(org)}`;
    try {
      for (const s of [...secrets, ...missing.map((name) => ({ name, value: values[name]! }))]) {
        await call('PUT', `${path}/secrets/${encodeURIComponent(s.name)}`, {
          value: s.value,
          description: `Imported with server ${c.slug}`,
        });
      }
      const created = await call<{ id: string }>('POST', `${path}/servers`, body);
      return { status: 'done', id: created.id };
    } catch (err) {
      return failure(err);
    }
  }

  const selected = rows?.filter((r) => r.selected && r.state.status !== 'done' && r.c.problems.length === 0).length ?? 0;
  const done = rows?.filter((r) => r.state.status === 'done').length ?? 0;

  return (
    <div className="stack">
      <form
        className="stack"
        aria-label="Client config"
        onSubmit={(e) => {
          e.preventDefault();
          preview();
        }}
      >
        <label className="field">
          <span>Config file contents</span>
          <textarea
            name="config"
            rows={10}
            className="mono"
            spellCheck={false}
            value={text}
            placeholder={SAMPLE}
            onChange={(e) => setText(e.target.value)}
            aria-invalid={parseError ? true : undefined}
            aria-describedby="config-hint"
          />
          <span className={parseError ? 'field-error' : 'hint'} id="config-hint" data-testid="config-hint">
            {parseError ??
              'claude_desktop_config.json (Claude Desktop), .cursor/mcp.json (Cursor), .mcp.json (Claude Code) or .vscode/mcp.json (VS Code).'}
          </span>
        </label>
        <div className="row" style={{ flexWrap: 'wrap', gap: 8 }}>
          <button className="btn primary" type="submit" disabled={!text.trim()}>
            Preview servers
          </button>
          <label className="btn">
            Upload a file
            <input
              type="file"
              accept=".json,.jsonc,application/json"
              style={{ position: 'absolute', width: 1, height: 1, opacity: 0 }}
              onChange={async (e) => {
                const file = e.target.files?.[0];
                if (!file) return;
                const content = await file.text();
                setText(content);
                preview(content);
                e.target.value = '';
              }}
            />
          </label>
        </div>
      </form>

      {rows ? (
        <form className="stack" aria-label="Servers to import" onSubmit={importSelected}>
          <h2 style={{ margin: 0 }}>
            {rows.length} server{rows.length === 1 ? '' : 's'} in the file
          </h2>
          {rows.map((r, i) => (
            <CandidateCard
              key={r.c.key}
              org={org}
              row={r}
              values={values}
              onValue={(name, v) => setValues((vs) => ({ ...vs, [name]: v }))}
              onSelect={(selected) => update(i, (x) => ({ ...x, selected }))}
              onSlug={(slug) => update(i, (x) => ({ ...x, c: { ...x.c, slug }, state: { status: 'idle' } }))}
              disabled={busy}
            />
          ))}
          {done > 0 ? (
            <div className="notice ok" role="status" style={{ margin: 0 }} data-testid="import-summary">
              {done} of {rows.length} registered. <Link href={`/o/${org}/servers`}>See all servers</Link> and probe them to read their
              tools.
            </div>
          ) : null}
          <div>
            <button className="btn primary" type="submit" disabled={busy || selected === 0}>
              {busy ? 'Importing…' : `Import ${selected} server${selected === 1 ? '' : 's'}`}
            </button>
          </div>
        </form>
      ) : null}
    </div>
  );
}

/** A failed registration, with the URL name's error (a taken or invalid slug) apart so it shows on that field. */
function failure(err: unknown): RowState {
  const errors = err instanceof ApiError ? (err.problem.errors ?? []) : [];
  const slugField = errors.find((f) => f.path === 'slug');
  const taken = err instanceof ApiError && err.status === 409 && /slug/i.test(err.message) ? err.message : undefined;
  const slug = slugField ? `URL name ${slugField.message}.` : taken;
  const rest = errors.filter((f) => f !== slugField).map((f) => `${f.path}: ${f.message}`);
  const message = slug && rest.length === 0 ? null : errorMessage(err);
  return { status: 'failed', message, fields: rest, slug };
}

function CandidateCard({
  org,
  row,
  values,
  onValue,
  onSelect,
  onSlug,
  disabled,
}: {
  org: string;
  row: Row;
  values: Record<string, string>;
  onValue: (name: string, value: string) => void;
  onSelect: (selected: boolean) => void;
  onSlug: (slug: string) => void;
  disabled: boolean;
}) {
  const { c, state } = row;
  const blocked = c.problems.length > 0;
  const isDone = state.status === 'done';
  const slugError = state.status === 'failed' ? state.slug : undefined;
  // The key in the file, not the slug: the slug is edited in this card and ids must stay put.
  const id = `import-${c.key.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const shown = c.transport === 'stdio' ? c.env : c.headers;
  return (
    <section className="card stack" style={{ marginBottom: 0, gap: 8 }} aria-labelledby={`${id}-name`} data-testid="import-row">
      <div className="row" style={{ justifyContent: 'space-between', flexWrap: 'wrap', gap: 8 }}>
        <label className="row" style={{ gap: 8, minWidth: 0 }}>
          <input
            type="checkbox"
            checked={row.selected && !blocked && !isDone}
            disabled={blocked || isDone || disabled}
            onChange={(e) => onSelect(e.target.checked)}
          />
          <strong id={`${id}-name`} style={{ overflowWrap: 'anywhere' }}>
            {c.name}
          </strong>
        </label>
        <span className="row" style={{ gap: 6 }}>
          <Badge kind="info">{c.transport}</Badge>
          {c.enabled ? null : <Badge kind="warn">disabled</Badge>}
          <StateBadge state={state} blocked={blocked} />
        </span>
      </div>
      {blocked ? (
        <div className="notice error" style={{ margin: 0 }}>
          Cannot be imported: {c.problems.join(' ')}
        </div>
      ) : null}
      {state.status === 'failed' && state.message ? (
        <div className="notice error" role="alert" style={{ margin: 0 }} data-testid="row-error">
          {state.message}
          {state.fields.length > 0 ? (
            <ul style={{ margin: '4px 0 0', paddingLeft: 18 }}>
              {state.fields.map((f) => (
                <li key={f}>{f}</li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
      {isDone ? (
        <div className="small">
          Registered: <Link href={`/o/${org}/servers/${state.id}`}>open {c.name}</Link>
        </div>
      ) : null}
      {blocked ? null : (
        <>
          <label className="field">
            <span>URL name</span>
            <input
              value={c.slug}
              disabled={isDone || disabled}
              onChange={(e) => onSlug(e.target.value.trim().toLowerCase())}
              aria-invalid={slugError ? true : undefined}
              aria-describedby={slugError ? `${id}-slug-error` : undefined}
            />
            {slugError ? (
              <span className="field-error" id={`${id}-slug-error`} role="alert">
                {slugError}
              </span>
            ) : null}
          </label>
          <div className="small" style={{ overflowWrap: 'anywhere' }}>
            {c.transport === 'stdio' ? <code>{[c.command, ...c.args].join(' ')}</code> : <code>{c.url}</code>}
          </div>
          {Object.keys(shown).length > 0 ? (
            <ul
              className="stack small"
              style={{ margin: 0, paddingLeft: 18, gap: 4 }}
              aria-label={c.transport === 'stdio' ? 'Environment' : 'Headers'}
            >
              {Object.entries(shown).map(([name, v]) => (
                <li key={name} style={{ overflowWrap: 'anywhere' }}>
                  <code>{name}</code> <ValueLine v={v} value={values} onValue={onValue} disabled={isDone || disabled} />
                </li>
              ))}
            </ul>
          ) : null}
        </>
      )}
      {c.notes.length > 0 ? (
        <ul className="muted small" style={{ margin: 0, paddingLeft: 18 }}>
          {c.notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

function ValueLine({
  v,
  value,
  onValue,
  disabled,
}: {
  v: ImportedValue;
  value: Record<string, string>;
  onValue: (name: string, value: string) => void;
  disabled: boolean;
}) {
  if (v.kind === 'plain') return <code>= {v.value || '""'}</code>;
  if (v.kind === 'secret') {
    return (
      <span data-testid="to-secret">
        → stored as org secret <Badge kind="info">{v.secret}</Badge>{' '}
        <span className="muted">(the value is not kept in the server config)</span>
      </span>
    );
  }
  if (v.exists) {
    return (
      <span>
        → uses the org secret <Badge kind="info">{v.secret}</Badge> <span className="muted">(was {v.placeholder})</span>
      </span>
    );
  }
  return (
    <label className="stack" style={{ gap: 4, marginTop: 4 }}>
      <span>
        → needs a value for the new org secret <Badge kind="warn">{v.secret}</Badge> <span className="muted">(was {v.placeholder})</span>
      </span>
      <input
        type="password"
        autoComplete="off"
        aria-label={`Value of secret ${v.secret}`}
        value={value[v.secret] ?? ''}
        disabled={disabled}
        onChange={(e) => onValue(v.secret, e.target.value)}
      />
    </label>
  );
}

function StateBadge({ state, blocked }: { state: RowState; blocked: boolean }) {
  if (blocked) return <Badge kind="danger">invalid</Badge>;
  if (state.status === 'working') return <Badge>importing…</Badge>;
  if (state.status === 'done') return <Badge kind="ok">registered</Badge>;
  if (state.status === 'failed') return <Badge kind="danger">failed</Badge>;
  return null;
}
