'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { type FormEvent, useRef, useState } from 'react';
import type { NetworkPolicy, ServerIsolation, ServerTransport, ServerView, ValueSource } from '@toolgate/contracts';
import { CreateServerRequest, MASK, UpdateServerRequest } from '@toolgate/contracts/src/api/servers';
import { slugify } from '@toolgate/contracts/src/slug';
import { call, errorMessage } from '@/lib/client';
import { nameFromCommandLine, splitCommandLine } from '@/lib/command-line';
import { ApiError } from '@/lib/problem';
import { DEFAULT_ISOLATION, ISOLATION_HINT, ISOLATION_LABEL, LAUNCHER_DIRS, NETWORK_HINT, NETWORK_LABEL, TRANSPORT_LABEL } from './labels';
import css from './servers.module.css';

type Isolation = ServerIsolation;
type Transport = ServerTransport;

type Field = 'env' | 'headers';
interface Row {
  key: number;
  name: string;
  kind: 'value' | 'secret';
  value: string;
  secret: string;
}
type Errors = Record<string, string>;

let nextKey = 1;
const newRow = (r: Partial<Row> = {}): Row => ({ key: nextKey++, name: '', kind: 'value', value: '', secret: '', ...r });
const rowsOf = (map: Record<string, ValueSource> | undefined): Row[] =>
  Object.entries(map ?? {}).map(([name, v]) =>
    newRow('secret' in v ? { name, kind: 'secret', secret: v.secret } : { name, value: v.value }),
  );

/** Arguments as one per line, unless some argument would not survive that (then a JSON list). */
function argsText(args: string[]): string {
  const plain = args.every((a) => a !== '' && a.trim() === a && !a.includes('\n')) && !args[0]?.startsWith('[');
  return plain ? args.join('\n') : JSON.stringify(args);
}

function parseArgs(text: string): { args: string[] } | { error: string } {
  const t = text.trim();
  if (!t) return { args: [] };
  if (t.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(t);
      if (Array.isArray(parsed) && parsed.every((a) => typeof a === 'string')) return { args: parsed };
    } catch {
      // fall through to the message below
    }
    return { error: 'Arguments must be one per line, or a JSON list of strings such as ["--port", "8080"].' };
  }
  return {
    args: text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean),
  };
}

const fieldLabel = (field: Field) => (field === 'env' ? 'Environment variable' : 'Header');

/** Turns an API field path into a place on the form and a sentence. */
function placeApiError(path: string, message: string, env: Row[], headers: Row[]): { key: string; text: string } {
  for (const field of ['env', 'headers'] as const) {
    if (path === field) return { key: field, text: `${field === 'env' ? 'Environment variables' : 'Headers'} ${message}.` };
    if (path.startsWith(`${field}.`)) {
      const name = path.slice(field.length + 1).replace(/\.(value|secret)$/, '');
      const rows = field === 'env' ? env : headers;
      const i = rows.findIndex((r) => (field === 'env' ? r.name === name : r.name.toLowerCase() === name.toLowerCase()));
      return { key: i >= 0 ? `${field}.${i}` : field, text: `${fieldLabel(field)} ${name} ${message}.` };
    }
  }
  const top = path.split('.')[0] ?? '';
  const labels: Record<string, string> = {
    slug: 'Slug',
    name: 'Name',
    description: 'Description',
    transport: 'Transport',
    command: 'Command',
    args: 'Arguments',
    network: 'Network',
    isolation: 'Isolation',
    url: 'URL',
    tags: 'Tags',
    timeoutMs: 'Timeout',
    enabled: 'Enabled',
  };
  const key = top === 'timeoutMs' ? 'timeout' : top || 'form';
  return { key, text: `${labels[top] ?? (top || 'The server')} ${message}.` };
}

/** The launchers a command may use, as a list of code spans: "npx, uvx or node". */
function Launchers({ names }: { names: string[] }) {
  return (
    <>
      {names.map((n, i) => (
        <span key={n}>
          {i > 0 ? (i === names.length - 1 ? ' or ' : ', ') : null}
          <code>{n}</code>
        </span>
      ))}
    </>
  );
}

/** What the command field says before anything is sent: the operator's launchers when known. */
function commandHint(allowed: string[] | undefined) {
  if (!allowed) return <>The program to run, e.g. npx, node or python3, or the whole command line.</>;
  if (allowed.length === 0) return <>This gateway runs no stdio servers; register an HTTP server instead.</>;
  return (
    <>
      The program or the whole command line. Allowed launchers: <Launchers names={allowed} /> (by name, or by path in{' '}
      {LAUNCHER_DIRS.join(', ')}).
    </>
  );
}

export function ServerForm({
  org,
  secrets,
  initial,
  allowedCommands,
}: {
  org: string;
  secrets: string[];
  initial?: ServerView;
  /** From GET /sandbox; undefined when the API could not say. */
  allowedCommands?: string[];
}) {
  const router = useRouter();
  const editing = !!initial;
  const [name, setName] = useState(initial?.name ?? '');
  const [slug, setSlug] = useState(initial?.slug ?? '');
  const [slugTouched, setSlugTouched] = useState(editing);
  const [description, setDescription] = useState(initial?.description ?? '');
  const [transport, setTransport] = useState<Transport>(initial?.transport ?? 'stdio');
  const [command, setCommand] = useState(initial?.command ?? '');
  const [args, setArgs] = useState(argsText(initial?.args ?? []));
  const [network, setNetwork] = useState<NetworkPolicy>(initial?.network ?? 'none');
  const [isolation, setIsolation] = useState<Isolation>(initial?.isolation ?? DEFAULT_ISOLATION.stdio);
  /** Until the admin picks one, the select follows the transport's default. */
  const [isolationTouched, setIsolationTouched] = useState(editing);
  /** The API's 422 command_not_allowed sentence (it names the command and the allowed launchers). */
  const [refusal, setRefusal] = useState<string | null>(null);
  const [url, setUrl] = useState(initial?.url ?? '');
  const [env, setEnv] = useState<Row[]>(rowsOf(initial?.env));
  const [headers, setHeaders] = useState<Row[]>(rowsOf(initial?.headers));
  const [timeout, setTimeoutS] = useState(String((initial?.timeoutMs ?? 30_000) / 1000));
  const [tags, setTags] = useState((initial?.tags ?? []).join(', '));
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const [errors, setErrors] = useState<Errors>({});
  const [summary, setSummary] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const summaryRef = useRef<HTMLDivElement>(null);

  const stdio = transport === 'stdio';
  const commandLine = splitCommandLine(command);
  // An untyped name follows the command line (`…/server-everything` → everything), so pasting one line is enough.
  const typedArgs = parseArgs(args);
  const derivedName = stdio
    ? nameFromCommandLine([...commandLine.slice(1), ...('args' in typedArgs ? typedArgs.args : []), ...commandLine.slice(0, 1)])
    : null;
  const effectiveName = name.trim() || derivedName || '';
  const effectiveSlug = slugTouched ? slug : slugify(effectiveName);

  /**
   * Builds the request body and checks it with the schema the API validates with
   * (@toolgate/contracts api/servers.ts), so the form shows the API's field errors before sending.
   * Only what the body cannot carry is checked here: unnamed and repeated rows (a map keeps one
   * entry per name), a timeout that is not a number, arguments that do not parse.
   */
  function validate(): { errors: Errors; body?: Record<string, unknown> } {
    const e: Errors = {};
    const seconds = Number(timeout);
    if (timeout.trim() === '' || !Number.isFinite(seconds)) e.timeout = 'Timeout must be a number of seconds.';
    const tagList = tags
      .split(/[,\s]+/)
      .map((t) => t.trim())
      .filter(Boolean);

    const rowsToMap = (field: Field, rows: Row[]): Record<string, ValueSource> => {
      const out: Record<string, ValueSource> = {};
      const seen = new Set<string>();
      rows.forEach((r, i) => {
        const k = `${field}.${i}`;
        const n = r.name.trim();
        if (!n) e[k] = `${fieldLabel(field)} ${i + 1} needs a name.`;
        else if (seen.has(n)) e[k] = `${n} appears twice.`;
        seen.add(n);
        out[n] = r.kind === 'secret' ? { secret: r.secret } : { value: r.value };
      });
      return out;
    };

    const body: Record<string, unknown> = {
      name: effectiveName,
      slug: effectiveSlug,
      description: editing ? description.trim() || null : description.trim() || undefined,
      transport,
      tags: tagList,
      timeoutMs: Math.round(seconds * 1000),
      isolation,
    };
    if (!editing) body.enabled = enabled;
    if (stdio) {
      const parsed = parseArgs(args);
      if ('error' in parsed) e.args = parsed.error;
      else body.args = [...commandLine.slice(1), ...parsed.args];
      // A new server without a command gets the transport's "is required" rather than "must not be empty".
      body.command = editing ? (commandLine[0] ?? '') : commandLine[0];
      body.network = network;
      body.env = rowsToMap('env', env);
      if (editing) Object.assign(body, { url: null, headers: {} });
    } else {
      body.url = url.trim();
      body.headers = rowsToMap('headers', headers);
      if (editing) Object.assign(body, { command: null, args: [], env: {}, network: 'none' });
    }
    const checked = (editing ? UpdateServerRequest : CreateServerRequest).safeParse(body);
    for (const issue of checked.success ? [] : checked.error.issues) {
      const p = placeApiError(issue.path.map(String).join('.'), issue.message, env, headers);
      e[p.key] ??= p.text;
    }
    return Object.keys(e).length ? { errors: e } : { errors: {}, body };
  }

  function show(e: Errors, lines: string[]) {
    setErrors(e);
    setSummary(lines);
    requestAnimationFrame(() => summaryRef.current?.focus());
  }

  async function submit(ev: FormEvent) {
    ev.preventDefault();
    const v = validate();
    if (!v.body) return show(v.errors, Object.values(v.errors));
    setBusy(true);
    setRefusal(null);
    show({}, []);
    try {
      const saved = editing
        ? await call<ServerView>('PATCH', `/v1/orgs/${org}/servers/${initial.id}`, v.body)
        : await call<ServerView>('POST', `/v1/orgs/${org}/servers`, v.body);
      router.push(`/o/${org}/servers/${saved.id}`);
      router.refresh();
    } catch (err) {
      if (err instanceof ApiError && err.problem.code === 'command_not_allowed') {
        const detail = err.problem.detail ?? err.message;
        setRefusal(detail);
        show({ command: detail }, [detail]);
        setBusy(false);
        return;
      }
      const fieldErrors = err instanceof ApiError ? (err.problem.errors ?? []) : [];
      if (fieldErrors.length) {
        const e: Errors = {};
        const lines: string[] = [];
        for (const fe of fieldErrors) {
          const p = placeApiError(fe.path, fe.message, env, headers);
          e[p.key] = e[p.key] ? `${e[p.key]} ${p.text}` : p.text;
          lines.push(p.text);
        }
        show(e, lines);
      } else {
        const msg = errorMessage(err);
        show(/slug/i.test(msg) && err instanceof ApiError && err.status === 409 ? { slug: msg } : {}, [msg]);
      }
      setBusy(false);
    }
  }

  const fieldError = (k: string) =>
    errors[k] ? (
      <span className="field-error" id={`err-${k}`}>
        {errors[k]}
      </span>
    ) : null;
  const invalid = (k: string) => (errors[k] ? { 'aria-invalid': true as const, 'aria-describedby': `err-${k}` } : {});

  return (
    <form className="stack" onSubmit={submit} noValidate aria-label={editing ? 'Edit server' : 'Register server'}>
      {summary.length ? (
        <div className="notice error" role="alert" tabIndex={-1} ref={summaryRef} data-testid="form-errors">
          <strong>The server could not be saved.</strong>
          <ul style={{ margin: '4px 0 0', paddingLeft: 20 }}>
            {summary.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ul>
        </div>
      ) : null}

      <div className={css.twoCols}>
        <label className="field">
          <span>Name</span>
          <input
            value={name}
            onChange={(e) => setName(e.target.value)}
            maxLength={120}
            placeholder={derivedName ?? undefined}
            required={!derivedName}
            {...invalid('name')}
          />
          {fieldError('name')}
        </label>
        <label className="field">
          <span>Slug</span>
          <input
            value={effectiveSlug}
            onChange={(e) => {
              setSlugTouched(true);
              setSlug(e.target.value.toLowerCase());
            }}
            autoCapitalize="none"
            spellCheck={false}
            required
            {...invalid('slug')}
          />
          {fieldError('slug') ?? <span className="hint">Tools appear to agents as {effectiveSlug || 'slug'}__tool_name.</span>}
        </label>
      </div>
      <label className="field">
        <span>Description</span>
        <input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={1000} {...invalid('description')} />
        {fieldError('description')}
      </label>

      <fieldset className={css.fieldset}>
        <legend>Transport</legend>
        <div className={css.transports}>
          {(['stdio', 'streamable-http', 'sse'] as const).map((t) => (
            <label key={t} className={css.transport}>
              <input
                type="radio"
                name="transport"
                value={t}
                checked={transport === t}
                onChange={() => {
                  setTransport(t);
                  if (!isolationTouched) setIsolation(DEFAULT_ISOLATION[t]);
                }}
              />
              <span>
                <strong>{TRANSPORT_LABEL[t]}</strong>
                <br />
                <span className="muted small">
                  {t === 'stdio'
                    ? 'The gateway starts the server as a process.'
                    : t === 'sse'
                      ? 'An older HTTP server using server-sent events.'
                      : 'A remote server reached over HTTP.'}
                </span>
              </span>
            </label>
          ))}
        </div>
      </fieldset>

      {stdio ? (
        <>
          <label className="field">
            <span>Command</span>
            <input
              value={command}
              onChange={(e) => setCommand(e.target.value)}
              placeholder="npx -y @modelcontextprotocol/server-everything"
              spellCheck={false}
              autoCapitalize="none"
              className="mono"
              {...invalid('command')}
            />
            {refusal ? (
              <span className="field-error" id="err-command" data-testid="command-not-allowed">
                {refusal}
              </span>
            ) : (
              (fieldError('command') ?? (
                <span className="hint" data-testid="command-hint">
                  {commandHint(allowedCommands)}
                </span>
              ))
            )}
          </label>
          <label className="field">
            <span>Arguments</span>
            <textarea
              value={args}
              onChange={(e) => setArgs(e.target.value)}
              rows={4}
              placeholder={'-y\n@modelcontextprotocol/server-everything'}
              spellCheck={false}
              {...invalid('args')}
            />
            {fieldError('args') ?? (
              <span className="hint">One per line, or a JSON list such as ["--port", "8080"] to keep spaces exactly.</span>
            )}
          </label>
          <label className="field">
            <span>Network</span>
            <select value={network} onChange={(e) => setNetwork(e.target.value as NetworkPolicy)} {...invalid('network')}>
              {(['none', 'egress'] as const).map((n) => (
                <option key={n} value={n}>
                  {NETWORK_LABEL[n]}
                </option>
              ))}
            </select>
            {fieldError('network') ?? (
              <span className="hint" data-testid="network-hint">
                {NETWORK_HINT[network]}
              </span>
            )}
          </label>
          <ValueRows field="env" rows={env} setRows={setEnv} secrets={secrets} org={org} errors={errors} />
        </>
      ) : (
        <>
          <label className="field">
            <span>URL</span>
            <input
              type="url"
              value={url}
              onChange={(e) => setUrl(e.target.value)}
              placeholder="https://mcp.example.com/mcp"
              spellCheck={false}
              autoCapitalize="none"
              {...invalid('url')}
            />
            {fieldError('url')}
          </label>
          <ValueRows field="headers" rows={headers} setRows={setHeaders} secrets={secrets} org={org} errors={errors} />
        </>
      )}

      <label className="field">
        <span>Isolation</span>
        <select
          value={isolation}
          onChange={(e) => {
            setIsolation(e.target.value as Isolation);
            setIsolationTouched(true);
          }}
          data-testid="isolation"
          {...invalid('isolation')}
        >
          {(['per-key', 'per-session', 'shared'] as const).map((i) => (
            <option key={i} value={i}>
              {ISOLATION_LABEL[i]}
              {i === DEFAULT_ISOLATION[transport] ? ' (default)' : ''}
            </option>
          ))}
        </select>
        {fieldError('isolation') ?? (
          <span className="hint" data-testid="isolation-hint">
            {ISOLATION_HINT[isolation]}
          </span>
        )}
      </label>

      <div className={css.twoCols}>
        <label className="field">
          <span>Timeout (seconds)</span>
          <input
            type="number"
            min={1}
            max={300}
            step={1}
            value={timeout}
            onChange={(e) => setTimeoutS(e.target.value)}
            {...invalid('timeout')}
          />
          {fieldError('timeout') ?? <span className="hint">How long one call to this server may take (1–300).</span>}
        </label>
        <label className="field">
          <span>Tags</span>
          <input value={tags} onChange={(e) => setTags(e.target.value)} placeholder="prod, search" {...invalid('tags')} />
          {fieldError('tags') ?? <span className="hint">Optional, separated by commas; roles can match servers by tag.</span>}
        </label>
      </div>
      {!editing ? (
        <label className="row" style={{ gap: 8, flexWrap: 'nowrap', alignItems: 'flex-start' }}>
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} style={{ marginTop: 4 }} />
          <span>Enabled: agents may use it as soon as it is registered</span>
        </label>
      ) : null}
      {errors.form ? <div className="notice error">{errors.form}</div> : null}

      <div className="row">
        <button className="btn primary" type="submit" disabled={busy}>
          {busy ? 'Saving…' : editing ? 'Save changes' : 'Register server'}
        </button>
        <Link className="btn ghost" href={editing ? `/o/${org}/servers/${initial.id}` : `/o/${org}/servers`}>
          Cancel
        </Link>
      </div>
    </form>
  );
}

/** Environment variables (stdio) or headers (HTTP): each a literal value or a reference to an org secret. */
function ValueRows({
  field,
  rows,
  setRows,
  secrets,
  org,
  errors,
}: {
  field: Field;
  rows: Row[];
  setRows: (rows: Row[]) => void;
  secrets: string[];
  org: string;
  errors: Errors;
}) {
  const noun = field === 'env' ? 'variable' : 'header';
  const update = (i: number, patch: Partial<Row>) => setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <fieldset className={css.fieldset}>
      <legend>{field === 'env' ? 'Environment variables' : 'Headers'}</legend>
      <div className="stack" style={{ gap: 8 }}>
        {rows.length === 0 ? (
          <span className="muted small">
            {field === 'env' ? 'None. The process gets only PATH, HOME and LANG.' : 'None.'} Credentials belong in a secret.
          </span>
        ) : null}
        {rows.map((r, i) => {
          const err = errors[`${field}.${i}`];
          return (
            <div key={r.key}>
              <div className={css.valueRow}>
                <input
                  aria-label={`${field === 'env' ? 'Variable' : 'Header'} name ${i + 1}`}
                  value={r.name}
                  placeholder={field === 'env' ? 'API_TOKEN' : 'Authorization'}
                  onChange={(e) => update(i, { name: e.target.value })}
                  spellCheck={false}
                  autoCapitalize="none"
                  className="mono"
                  aria-invalid={err ? true : undefined}
                />
                <select
                  aria-label={`Source of ${noun} ${i + 1}`}
                  value={r.kind}
                  onChange={(e) => update(i, { kind: e.target.value as Row['kind'] })}
                >
                  <option value="value">Value</option>
                  <option value="secret">Secret</option>
                </select>
                {r.kind === 'secret' ? (
                  <select
                    aria-label={`Secret for ${noun} ${i + 1}`}
                    value={r.secret}
                    onChange={(e) => update(i, { secret: e.target.value })}
                    aria-invalid={err && !r.secret ? true : undefined}
                  >
                    <option value="">Choose a secret…</option>
                    {r.secret && !secrets.includes(r.secret) ? <option value={r.secret}>{r.secret} (missing)</option> : null}
                    {secrets.map((s) => (
                      <option key={s} value={s}>
                        {s}
                      </option>
                    ))}
                  </select>
                ) : (
                  <input
                    aria-label={`Value of ${noun} ${i + 1}`}
                    value={r.value}
                    onChange={(e) => update(i, { value: e.target.value })}
                    spellCheck={false}
                    autoCapitalize="none"
                    className="mono"
                  />
                )}
                <button
                  type="button"
                  className="btn small ghost"
                  aria-label={`Remove ${noun} ${i + 1}`}
                  onClick={() => setRows(rows.filter((_, j) => j !== i))}
                >
                  Remove
                </button>
              </div>
              {err ? (
                <div className={css.valueRowError} role="note">
                  {err}
                </div>
              ) : null}
              {r.kind === 'value' && r.value === MASK ? (
                <div className="muted small">{MASK} keeps the stored value; type a new one to change it.</div>
              ) : null}
            </div>
          );
        })}
        {errors[field] ? <div className={css.valueRowError}>{errors[field]}</div> : null}
        <div className="row">
          <button type="button" className="btn small" onClick={() => setRows([...rows, newRow()])}>
            Add {noun}
          </button>
          {secrets.length === 0 ? (
            <span className="muted small">
              To pass a credential, first <Link href={`/o/${org}/secrets`}>create a secret</Link>.
            </span>
          ) : (
            <span className="muted small">Pick “Secret” to take the value from an org secret; it is never shown here.</span>
          )}
        </div>
      </div>
    </fieldset>
  );
}
