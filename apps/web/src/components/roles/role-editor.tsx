'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useMemo, useState } from 'react';
import { call } from '@/lib/client';
import { ApiError } from '@/lib/problem';
import { describePath, METADATA_REF, readableRules } from './paths';
import styles from './role-editor.module.css';
import { RulesSummary } from './rules-summary';
import type { RoleRules, RoleView } from '@toolgate/contracts';
import { RoleName } from '@toolgate/contracts/src/api/roles';

/** The API's role name rule (RoleName in UpsertRoleRequest), checked before sending. */
const validName = (name: string) => RoleName.safeParse(name).success;

/** What a new role starts with: read-only tools allowed, destructive ones denied, a rate limit. */
export const RULES_TEMPLATE = `{
  "tools": [
    { "effect": "allow", "match": "*__get*" },
    { "effect": "allow", "match": "*__list*" },
    { "effect": "allow", "match": "*__search*" },
    { "effect": "deny", "match": "*__delete*" }
  ],
  "prompts": [],
  "resources": [],
  "rateLimits": [{ "scope": "key", "perMinute": 60 }],
  "redact": [],
  "ipAllow": []
}`;

type Parsed = { ok: true; rules: RoleRules } | { ok: false; message: string };

/** JSON.parse with the error turned into "line 3, column 5: …" (browsers report a character position). */
export function parseRules(text: string): Parsed {
  if (!text.trim()) return { ok: false, message: 'The rules are empty. Start from {} or the template.' };
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { ok: false, message: 'The rules must be a JSON object: { "tools": [...], ... }.' };
    }
    return { ok: true, rules: value as RoleRules };
  } catch (err) {
    const raw = err instanceof Error ? err.message : String(err);
    const pos = /position (\d+)/.exec(raw);
    let where = '';
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split('\n').length;
      const column = before.length - before.lastIndexOf('\n');
      where = `line ${line}, column ${column}: `;
    }
    const reason = raw
      .replace(/^JSON\.parse: /, '')
      .replace(/ in JSON at position \d+.*$/, '')
      .replace(/\s*\(line \d+ column \d+\)$/, '');
    return { ok: false, message: `Not valid JSON — ${where}${reason}.` };
  }
}

/** Keeps only what the preview can draw, so a half-typed rule never breaks the page. */
function previewable(rules: RoleRules): RoleRules {
  const arr = <T,>(v: unknown): T[] => (Array.isArray(v) ? (v.filter((x) => typeof x === 'object' && x !== null) as T[]) : []);
  return {
    tools: arr<NonNullable<RoleRules['tools']>[number]>(rules.tools).map((t) => ({
      ...t,
      constraints:
        typeof t.constraints === 'object' && t.constraints !== null
          ? Object.fromEntries(
              Object.entries(t.constraints).map(([k, c]) => [
                k,
                typeof c === 'object' && c !== null ? { ...c, oneOf: Array.isArray(c.oneOf) ? c.oneOf : undefined } : {},
              ]),
            )
          : undefined,
    })),
    prompts: arr(rules.prompts),
    resources: arr(rules.resources),
    rateLimits: arr(rules.rateLimits),
    redact: arr(rules.redact),
    ipAllow: Array.isArray(rules.ipAllow) ? rules.ipAllow.map(String) : [],
  };
}

interface FieldProblem {
  path: string;
  message: string;
}

/** Create (no `role`) or replace a role: name, description, and the rules as JSON with a live preview. */
export function RoleEditor({ org, role }: { org: string; role?: RoleView }) {
  const router = useRouter();
  const [name, setName] = useState(role?.name ?? '');
  const [description, setDescription] = useState(role?.description ?? '');
  const [text, setText] = useState(role ? JSON.stringify(readableRules(role.rules), null, 2) : RULES_TEMPLATE);
  const [touched, setTouched] = useState(false);
  const [apiErrors, setApiErrors] = useState<FieldProblem[]>([]);
  const [general, setGeneral] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const parsed = useMemo(() => parseRules(text), [text]);

  const nameError =
    touched && !validName(name)
      ? 'Use 1–63 lowercase letters, digits, "_" and "-", starting with a letter or digit.'
      : (apiErrors.find((e) => e.path === 'name')?.message ?? null);
  const ruleErrors = apiErrors.filter((e) => e.path !== 'name' && e.path !== 'description');
  const descriptionError = apiErrors.find((e) => e.path === 'description')?.message ?? null;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    setSaved(false);
    setGeneral(null);
    if (!validName(name) || !parsed.ok) return;
    setBusy(true);
    setApiErrors([]);
    const body = { name, description: description.trim() || null, rules: parsed.rules };
    const base = `/v1/orgs/${encodeURIComponent(org)}/roles`;
    try {
      if (role) {
        await call('PUT', `${base}/${role.id}`, body);
        setSaved(true);
        router.refresh();
      } else {
        const created = await call<RoleView>('POST', base, body);
        router.push(`/o/${org}/roles/${created.id}?created=1`);
        router.refresh();
      }
    } catch (err) {
      if (err instanceof ApiError && err.problem.errors?.length) {
        setApiErrors(err.problem.errors);
        setGeneral(null);
      } else if (err instanceof ApiError && err.problem.code === 'policy_invalid') {
        setApiErrors([{ path: 'rules', message: err.problem.detail ?? err.message }]);
      } else {
        setGeneral(err instanceof Error ? err.message : 'Something went wrong.');
      }
    } finally {
      setBusy(false);
    }
  }

  const showParseError = !parsed.ok;
  return (
    <form className="stack" onSubmit={submit} noValidate aria-label={role ? `Edit role ${role.name}` : 'Create role'}>
      {general ? (
        <div className="notice error" role="alert">
          {general}
        </div>
      ) : null}
      {saved ? (
        <div className="notice ok" role="status">
          Saved. Keys holding this role follow the new rules from their next call.
        </div>
      ) : null}
      <div className="row" style={{ alignItems: 'flex-start', gap: 16 }}>
        <label className="field" style={{ flex: '1 1 220px' }}>
          <span>Name</span>
          <input
            name="name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            onBlur={() => setTouched(true)}
            placeholder="support-agent"
            aria-invalid={nameError ? true : undefined}
            aria-describedby="role-name-msg"
            autoComplete="off"
          />
          <span id="role-name-msg" className={nameError ? 'field-error' : 'hint'}>
            {nameError ?? 'Lowercase, e.g. support-agent. Shown in decisions as role:<name>.'}
          </span>
        </label>
        <label className="field" style={{ flex: '2 1 300px' }}>
          <span>Description (optional)</span>
          <input name="description" value={description} maxLength={500} onChange={(e) => setDescription(e.target.value)} />
          {descriptionError ? <span className="field-error">{descriptionError}</span> : null}
        </label>
      </div>

      <div className={styles.layout}>
        <div className="stack" style={{ gap: 8 }}>
          <label className="field">
            <span>Rules (JSON)</span>
            <textarea
              name="rules"
              className={styles.rules}
              value={text}
              onChange={(e) => {
                setText(e.target.value);
                setSaved(false);
              }}
              spellCheck={false}
              aria-invalid={showParseError || ruleErrors.length > 0 ? true : undefined}
              aria-describedby="rules-problems"
            />
          </label>
          <div id="rules-problems" aria-live="polite">
            {showParseError ? (
              <div className="notice error" data-testid="rules-parse-error" style={{ marginBottom: 0 }}>
                {parsed.message} Nothing is sent until this is fixed.
              </div>
            ) : null}
            {ruleErrors.length > 0 ? (
              <div className="notice error" role="alert" data-testid="rules-api-errors" style={{ marginBottom: 0 }}>
                <strong>The API did not accept these rules:</strong>
                <ul className={styles.errors}>
                  {ruleErrors.map((e) => (
                    <li key={`${e.path}:${e.message}`}>
                      <span className={styles.where}>{describePath(e.path)}</span>
                      {e.path ? <code className="small"> ({e.path})</code> : null}: {e.message}
                    </li>
                  ))}
                </ul>
              </div>
            ) : null}
          </div>
          <details className={styles.cheats}>
            <summary>How rules work</summary>
            <ul>
              <li>
                <code>tools</code>: <code>{'{ "effect": "allow" | "deny", "match": "server__tool" }'}</code>; <code>*</code> and{' '}
                <code>?</code> are wildcards. Any matching deny wins; otherwise the first matching allow does; otherwise the call is denied.
              </li>
              <li>
                Allow rules may add <code>constraints</code> per argument: <code>equals</code>, <code>oneOf</code>, <code>pattern</code>,{' '}
                <code>min</code>, <code>max</code>, <code>maxLength</code>, <code>required</code>. Values may reference{' '}
                <code>{METADATA_REF}</code>.
              </li>
              <li>
                <code>prompts</code>: like tools. <code>resources</code>: <code>{'{ "effect", "uri": "file:///docs/*", "server"? }'}</code>.
              </li>
              <li>
                <code>rateLimits</code>: <code>{'{ "scope": "key" | "tool", "perMinute", "burst"?, "match"? }'}</code>. <code>redact</code>:{' '}
                <code>{'{ "name", "pattern", "replacement"? }'}</code> for audit logs. <code>ipAllow</code>: addresses or CIDR blocks.
              </li>
            </ul>
          </details>
        </div>
        <section className="stack" style={{ gap: 8 }} aria-labelledby="rules-preview-title">
          <h3 id="rules-preview-title" style={{ margin: 0 }}>
            Preview
          </h3>
          {parsed.ok ? (
            <RulesSummary rules={previewable(parsed.rules)} />
          ) : (
            <p className="muted" style={{ margin: 0 }}>
              The preview appears when the JSON is valid.
            </p>
          )}
        </section>
      </div>

      <div className="row">
        <button type="submit" className="btn primary" disabled={busy || !parsed.ok}>
          {busy ? 'Saving…' : role ? 'Save role' : 'Create role'}
        </button>
        {!role ? (
          <button type="button" className="btn ghost" onClick={() => setText(RULES_TEMPLATE)}>
            Reset to template
          </button>
        ) : null}
      </div>
    </form>
  );
}
