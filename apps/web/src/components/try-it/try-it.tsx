'use client';

import type { TryItAs, TryItResult } from '@toolgate/contracts/src/try-it';
import Link from 'next/link';
import { type FormEvent, useId, useMemo, useState } from 'react';
import type { McpTool } from '@toolgate/contracts';
import { Badge, ScrollPre } from '@/components/ui';
import { call, errorMessage } from '@/lib/client';
import { argumentsOf, type FormField, formOf } from '@/lib/schema-form';
import css from './try-it.module.css';

/** A tool that can be tried, with the server it belongs to. */
export interface TryTarget {
  serverId: string;
  serverSlug: string;
  tool: McpTool;
}

/** Whom a call can be made as: a fixed key (the key page), or a choice of roles and keys. */
export type TryAsChoice =
  | { fixed: { keyId: string; name: string } }
  | { roles: { id: string; name: string }[]; keys: { id: string; name: string }[] };

const targetId = (t: TryTarget) => `${t.serverId}|${t.tool.name}`;

/**
 * Calls a tool through the gateway (POST …/servers/:id/try): the API makes the call with a
 * temporary key of the chosen role (or a copy of the chosen key) and revokes it after. Arguments
 * come from a form built from the tool's input schema; raw JSON is there for schemas a form
 * cannot express, or when asked for.
 */
export function TryIt({ org, targets, as }: { org: string; targets: TryTarget[]; as: TryAsChoice }) {
  const uid = useId();
  const [selected, setSelected] = useState(targets[0] ? targetId(targets[0]) : '');
  const target = targets.find((t) => targetId(t) === selected) ?? targets[0];
  const fields = useMemo(() => (target ? formOf(target.tool.inputSchema) : null), [target]);
  const [values, setValues] = useState<Record<string, string>>({});
  const [raw, setRaw] = useState<string | null>(null);
  const [principal, setPrincipal] = useState(() =>
    'fixed' in as ? `key:${as.fixed.keyId}` : as.roles[0] ? `role:${as.roles[0].id}` : as.keys[0] ? `key:${as.keys[0].id}` : '',
  );
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<TryItResult | null>(null);

  if (!target) return <p className="muted">This server has no tools to try.</p>;
  const rawMode = raw !== null || fields === null;

  function reset() {
    setResult(null);
    setError(null);
    setFieldErrors({});
  }

  function pick(next: string) {
    setSelected(next);
    setValues({});
    setRaw(null);
    reset();
  }

  function showRaw() {
    const built = fields ? argumentsOf(fields, { ...initials(fields), ...values }) : null;
    setRaw(JSON.stringify(built?.ok ? built.arguments : {}, null, 2));
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!target) return;
    reset();
    let args: Record<string, unknown> | string;
    if (rawMode) args = raw ?? '';
    else {
      const built = argumentsOf(fields ?? [], { ...initials(fields ?? []), ...values });
      if (!built.ok) {
        setFieldErrors(built.errors);
        return;
      }
      args = built.arguments;
    }
    const [kind, id] = principal.split(':') as ['role' | 'key', string];
    const who: TryItAs = kind === 'role' ? { kind, roleId: id } : { kind, keyId: id };
    setBusy(true);
    try {
      setResult(
        await call<TryItResult>('POST', `/v1/orgs/${org}/servers/${target.serverId}/try`, {
          tool: target.tool.name,
          arguments: args,
          as: who,
        }),
      );
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className={css.form} onSubmit={submit} data-testid="try-it" noValidate>
      {targets.length > 1 ? (
        <label className="field">
          Tool
          <select value={targetId(target)} onChange={(e) => pick(e.target.value)}>
            {targets.map((t) => (
              <option key={targetId(t)} value={targetId(t)}>
                {t.serverSlug} · {t.tool.name}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      {'fixed' in as ? (
        <p className="muted small" style={{ margin: 0 }}>
          Called as this key: a temporary copy with its roles and metadata, revoked right after the call.
        </p>
      ) : (
        <label className="field">
          Call as
          <select
            value={principal}
            onChange={(e) => {
              setPrincipal(e.target.value);
              reset();
            }}
          >
            {as.roles.length ? (
              <optgroup label="A temporary key of the role">
                {as.roles.map((r) => (
                  <option key={r.id} value={`role:${r.id}`}>
                    role {r.name}
                  </option>
                ))}
              </optgroup>
            ) : null}
            {as.keys.length ? (
              <optgroup label="An existing key (a temporary copy of it)">
                {as.keys.map((k) => (
                  <option key={k.id} value={`key:${k.id}`}>
                    key {k.name}
                  </option>
                ))}
              </optgroup>
            ) : null}
          </select>
          <span className="hint">The temporary key is revoked right after the call; it is never shown and never listed.</span>
        </label>
      )}

      {rawMode ? (
        <label className="field">
          Arguments (JSON)
          <textarea
            rows={6}
            value={raw ?? ''}
            onChange={(e) => {
              setRaw(e.target.value);
              reset();
            }}
            spellCheck={false}
          />
          {fields === null ? <span className="hint">These arguments cannot be shown as a form: write them as a JSON object.</span> : null}
        </label>
      ) : (
        <ArgumentFields
          idPrefix={uid}
          fields={fields ?? []}
          values={values}
          errors={fieldErrors}
          onChange={(name, v) => {
            setValues((old) => ({ ...old, [name]: v }));
            reset();
          }}
        />
      )}

      <div className="row">
        <button type="submit" className="btn primary" disabled={busy || principal === ''} aria-busy={busy}>
          {busy ? 'Calling…' : `Call ${target.tool.name}`}
        </button>
        {fields !== null ? (
          <button type="button" className="btn ghost small" onClick={() => (rawMode ? setRaw(null) : showRaw())}>
            {rawMode ? 'Use the form' : 'Edit as JSON'}
          </button>
        ) : null}
        {principal === '' ? <span className="muted small">Create a role or a key first.</span> : null}
      </div>

      {error ? (
        <div className="notice error" role="alert" data-testid="try-error" style={{ marginBottom: 0 }}>
          {error}
        </div>
      ) : null}
      {result ? <Outcome org={org} r={result} /> : null}
    </form>
  );
}

function initials(fields: FormField[]): Record<string, string> {
  return Object.fromEntries(fields.filter((f) => f.initial !== '').map((f) => [f.name, f.initial]));
}

function ArgumentFields({
  idPrefix,
  fields,
  values,
  errors,
  onChange,
}: {
  idPrefix: string;
  fields: FormField[];
  values: Record<string, string>;
  errors: Record<string, string>;
  onChange: (name: string, value: string) => void;
}) {
  if (fields.length === 0) return <p className="muted small">This tool takes no arguments.</p>;
  return (
    <div className={css.fields}>
      {fields.map((f) => {
        const value = values[f.name] ?? f.initial;
        const err = errors[f.name];
        const hintId = `${idPrefix}-${f.name}-hint`;
        const common = { 'aria-invalid': err ? true : undefined, 'aria-describedby': hintId };
        const label = (
          <>
            <code>{f.name}</code>
            {f.required ? <span className="muted small"> (required)</span> : null}
          </>
        );
        const hint = (
          <span className={err ? 'field-error' : 'hint'} id={hintId}>
            {err ? `${f.name} ${err}` : (f.description ?? f.kind)}
          </span>
        );
        if (f.kind === 'boolean') {
          return (
            <label key={f.name} className={css.check}>
              <input
                type="checkbox"
                checked={value === 'true'}
                onChange={(e) => onChange(f.name, e.target.checked ? 'true' : '')}
                {...common}
              />
              <span>
                {label} {hint}
              </span>
            </label>
          );
        }
        return (
          <label key={f.name} className="field" htmlFor={`${idPrefix}-${f.name}`}>
            <span>{label}</span>
            {f.kind === 'enum' ? (
              <select id={`${idPrefix}-${f.name}`} value={value} onChange={(e) => onChange(f.name, e.target.value)} {...common}>
                <option value="">{f.required ? 'Choose…' : '(not set)'}</option>
                {f.options.map((o) => (
                  <option key={String(o)} value={String(o)}>
                    {String(o)}
                  </option>
                ))}
              </select>
            ) : (
              <input
                id={`${idPrefix}-${f.name}`}
                value={value}
                inputMode={f.kind === 'string' ? undefined : 'decimal'}
                onChange={(e) => onChange(f.name, e.target.value)}
                {...common}
              />
            )}
            {hint}
          </label>
        );
      })}
    </div>
  );
}

/** The text parts of a tool result, else the result as JSON. */
function ResultBody({ result }: { result: Record<string, unknown> }) {
  const content = Array.isArray(result.content) ? (result.content as { type?: string; text?: string }[]) : [];
  const texts = content.filter((c) => c.type === 'text' && typeof c.text === 'string');
  return (
    <>
      {texts.map((c, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: content parts are ordered and may repeat
        <ScrollPre key={i} className={css.output} data-testid="try-result-text">
          {c.text}
        </ScrollPre>
      ))}
      <details className={css.json}>
        <summary>{texts.length ? 'Whole result (JSON)' : 'Result (JSON)'}</summary>
        <ScrollPre className={css.output}>{JSON.stringify(result, null, 2)}</ScrollPre>
      </details>
    </>
  );
}

function Outcome({ org, r }: { org: string; r: TryItResult }) {
  const toolError = r.outcome === 'ok' && r.result?.isError === true;
  return (
    <section className={css.outcome} aria-label="Call result" role="status" data-testid="try-outcome">
      <div className="row" style={{ gap: 8 }}>
        {r.outcome === 'denied' ? (
          <Badge kind="danger">denied</Badge>
        ) : r.decision === 'allow' ? (
          <Badge kind="ok">allowed</Badge>
        ) : r.decision ? (
          <Badge kind="warn">{r.decision.replace('_', ' ')}</Badge>
        ) : null}
        {r.rule ? (
          <span className="small">
            by rule <code data-testid="try-rule">{r.rule}</code>
          </span>
        ) : null}
        {toolError ? <Badge kind="danger">the tool reported an error</Badge> : null}
        <span className="muted small">{Math.round(r.latencyMs)} ms</span>
      </div>
      {r.outcome === 'denied' ? (
        <p className={css.reason} data-testid="try-reason">
          Denied by policy: {r.reason ?? r.error?.message}
        </p>
      ) : null}
      {r.outcome === 'error' && r.error ? (
        <p className={css.reason} data-testid="try-reason">
          {r.error.message} <span className="muted small">(JSON-RPC error {r.error.code})</span>
        </p>
      ) : null}
      {r.result ? <ResultBody result={r.result} /> : null}
      <p className="small muted" style={{ margin: 0 }}>
        {r.audit ? (
          <>
            Recorded as{' '}
            <Link href={`/o/${org}/audit/${r.audit.id}`} data-testid="try-audit-link">
              audit entry #{r.audit.seq}
            </Link>
            .{' '}
          </>
        ) : (
          <>
            The audit entry is still being recorded: see the <Link href={`/o/${org}/audit`}>audit log</Link>.{' '}
          </>
        )}
        Called with the temporary key <code>{r.credential.prefix}…</code>, now revoked.
      </p>
    </section>
  );
}
