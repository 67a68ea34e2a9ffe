'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, type ReactNode, useMemo, useState } from 'react';
import { call } from '@/lib/client';
import { ApiError } from '@/lib/problem';
import { catalogueOf } from './catalogue';
import { CataloguePicker } from './catalogue-picker';
import { DraftSimulate } from './draft-simulate';
import { EMPTY_RULES, parseRulesText, validate } from './draft';
import { describePath, readableRules } from './paths';
import styles from './role-editor.module.css';
import { IpAllow, MetadataHelp, PromptRules, RateLimits, Redactions, ResourceRules, ToolRules } from './rule-lists';
import { RulesSummary } from './rules-summary';
import type { RoleRules, RoleView } from '@toolgate/contracts';
import type { ServerSummary } from './catalogue';

/** A starting point for people who prefer patterns: read-only tools allowed, destructive ones denied, a rate limit. */
export const RULES_TEMPLATE: RoleRules = {
  tools: [
    { effect: 'allow', match: '*__get*' },
    { effect: 'allow', match: '*__list*' },
    { effect: 'allow', match: '*__search*' },
    { effect: 'deny', match: '*__delete*' },
  ],
  prompts: [],
  resources: [],
  rateLimits: [{ scope: 'key', perMinute: 60 }],
  redact: [],
  ipAllow: [],
};

const toText = (rules: RoleRules) => JSON.stringify(readableRules(rules), null, 2);

/** The first server the tool rules name: "everything-agent" for a role built from server everything's tools. */
function suggestName(rules: RoleRules): string {
  for (const r of rules.tools ?? []) {
    const slug = typeof r?.match === 'string' ? /^([a-z0-9][a-z0-9-]*)__/.exec(r.match)?.[1] : undefined;
    if (slug) return `${slug}-agent`.slice(0, 63);
  }
  return '';
}

/**
 * Create (no `role`) or replace a role. The rules are built in a form fed by the servers'
 * catalogues, or written as JSON; both edit the same object. Everything is validated as it is
 * typed with the schema the API saves with, so problems show on their field before submit.
 */
export function RoleEditor({ org, role, servers }: { org: string; role?: RoleView; servers: ServerSummary[] }) {
  const router = useRouter();
  const [name, setName] = useState(role?.name ?? '');
  const [nameTouched, setNameTouched] = useState(Boolean(role));
  const [description, setDescription] = useState(role?.description ?? '');
  const [rules, setRules] = useState<RoleRules>(role ? (readableRules(role.rules) as RoleRules) : EMPTY_RULES);
  const [view, setView] = useState<'form' | 'json'>('form');
  const [text, setText] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const [apiErrors, setApiErrors] = useState<{ path: string; message: string }[]>([]);
  const [general, setGeneral] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const catalogue = useMemo(() => catalogueOf(servers), [servers]);

  const effectiveName = nameTouched || name ? name : suggestName(rules);
  const parsed = view === 'json' ? parseRulesText(text) : null;
  const errors = useMemo(() => validate(effectiveName, description, rules), [effectiveName, description, rules]);
  const ruleProblems = [...errors].filter(([p]) => p.startsWith('rules'));
  // The API's answer (a taken name) shows on the field too, until the next edit clears it.
  const nameError = (nameTouched || submitted ? errors.get('name') : undefined) ?? apiErrors.find((e) => e.path === 'name')?.message;

  const change = (next: RoleRules) => {
    setRules(next);
    setSaved(false);
    setApiErrors([]);
  };
  const toJson = () => {
    setText(toText(rules));
    setView('json');
  };
  const toForm = () => {
    if (parsed && !parsed.ok) return;
    setView('form');
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    setSubmitted(true);
    setSaved(false);
    setGeneral(null);
    if (errors.size > 0 || (parsed && !parsed.ok)) return;
    setBusy(true);
    setApiErrors([]);
    const body = { name: effectiveName, description: description.trim() || null, rules };
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
      if (err instanceof ApiError && err.problem.errors?.length) setApiErrors(err.problem.errors);
      else setGeneral(err instanceof Error ? err.message : 'Something went wrong.');
    } finally {
      setBusy(false);
    }
  }

  const problems = [...ruleProblems.map(([path, message]) => ({ path, message })), ...apiErrors.filter((e) => e.path !== 'name')];
  return (
    <form
      className="stack"
      onSubmit={submit}
      // What was said about the last attempt is stale once the person edits again.
      onChange={() => {
        setGeneral(null);
        setSaved(false);
        setApiErrors([]);
      }}
      noValidate
      aria-label={role ? `Edit role ${role.name}` : 'Create role'}
    >
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
            value={effectiveName}
            onChange={(e) => {
              setName(e.target.value);
              setNameTouched(true);
            }}
            onBlur={() => setNameTouched(true)}
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
          {errors.get('description') ? <span className="field-error">{errors.get('description')}</span> : null}
        </label>
      </div>

      <div className="tabs" role="tablist" aria-label="How to edit the rules">
        <button type="button" role="tab" aria-selected={view === 'form'} onClick={toForm} disabled={Boolean(parsed && !parsed.ok)}>
          Form
        </button>
        <button type="button" role="tab" aria-selected={view === 'json'} onClick={() => view === 'form' && toJson()}>
          JSON
        </button>
      </div>

      <div className={styles.layout}>
        <div className="stack" style={{ gap: 12, minWidth: 0 }}>
          {view === 'form' ? (
            <>
              <Section title="Servers and tools" hint="Tick what agents with this role may call (allow) or must never call (deny).">
                <CataloguePicker org={org} servers={servers} catalogue={catalogue} rules={rules} onChange={change} />
              </Section>
              <Section
                title="Tool rules"
                hint="In order. Any matching deny wins; otherwise the first matching allow whose constraints hold."
              >
                <ToolRules rules={rules} catalogue={catalogue} errors={errors} onChange={change} />
                <MetadataHelp />
              </Section>
              <More title="Prompt rules" count={rules.prompts?.length}>
                <PromptRules rules={rules} catalogue={catalogue} errors={errors} onChange={change} />
              </More>
              <More title="Resource rules" count={rules.resources?.length}>
                <ResourceRules rules={rules} catalogue={catalogue} errors={errors} onChange={change} />
              </More>
              <More title="Rate limits" count={rules.rateLimits?.length}>
                <RateLimits rules={rules} catalogue={catalogue} errors={errors} onChange={change} />
              </More>
              <More title="Redaction" count={rules.redact?.length}>
                <Redactions rules={rules} catalogue={catalogue} errors={errors} onChange={change} />
              </More>
              <More title="IP allow-list" count={rules.ipAllow?.length}>
                <IpAllow rules={rules} catalogue={catalogue} errors={errors} onChange={change} />
              </More>
            </>
          ) : (
            <>
              <label className="field">
                <span>Rules (JSON)</span>
                <textarea
                  name="rules"
                  className={styles.rules}
                  value={text}
                  onChange={(e) => {
                    setText(e.target.value);
                    const p = parseRulesText(e.target.value);
                    if (p.ok) change(p.rules);
                  }}
                  spellCheck={false}
                  aria-invalid={parsed && !parsed.ok ? true : undefined}
                  aria-describedby="rules-problems"
                />
              </label>
              {parsed && !parsed.ok ? (
                <div className="notice error" data-testid="rules-parse-error" style={{ marginBottom: 0 }}>
                  {parsed.message} Nothing is sent, and the form stays closed, until this is fixed.
                </div>
              ) : null}
              <div className="row">
                <button type="button" className="btn small" onClick={() => setText(toText(RULES_TEMPLATE))}>
                  Start from a template
                </button>
              </div>
            </>
          )}
        </div>
        <section className="stack" style={{ gap: 12, minWidth: 0 }} aria-labelledby="rules-preview-title">
          <h3 id="rules-preview-title" style={{ margin: 0 }}>
            Preview
          </h3>
          <div id="rules-problems" aria-live="polite">
            {problems.length > 0 ? (
              <div className="notice error" data-testid="rules-problems" style={{ marginBottom: 0 }}>
                <strong>{apiErrors.length ? 'The API did not accept these rules:' : 'Fix these before saving:'}</strong>
                <ul className={styles.errors}>
                  {problems.map((e) => (
                    <li key={`${e.path}:${e.message}`}>
                      <span className={styles.where}>{describePath(e.path)}</span>
                      {e.path ? <code className="small"> ({e.path})</code> : null}: {e.message}
                    </li>
                  ))}
                </ul>
              </div>
            ) : null}
          </div>
          <RulesSummary rules={rules} catalogue={catalogue} />
          <details className={styles.cheats} open>
            <summary>Test the draft</summary>
            <p className="muted small">
              Tries a call against the rules above, unsaved, as a key holding only this role. Nothing is called.
            </p>
            <DraftSimulate org={org} name={effectiveName} rules={rules} catalogue={catalogue} />
          </details>
        </section>
      </div>

      <div className="row">
        <button type="submit" className="btn primary" disabled={busy}>
          {busy ? 'Saving…' : role ? 'Save role' : 'Create role'}
        </button>
        {submitted && (errors.size > 0 || (parsed && !parsed.ok)) ? (
          <span className="field-error" role="alert" data-testid="submit-blocked">
            Not saved: fix the problems shown first.
          </span>
        ) : null}
      </div>
    </form>
  );
}

function Section({ title, hint, children }: { title: string; hint: string; children: ReactNode }) {
  return (
    <section className="stack" style={{ gap: 8 }} aria-label={title}>
      <h3 style={{ margin: 0 }}>{title}</h3>
      <p className="muted small" style={{ margin: 0 }}>
        {hint}
      </p>
      {children}
    </section>
  );
}

function More({ title, count, children }: { title: string; count: number | undefined; children: ReactNode }) {
  return (
    <details className={styles.more} open={Boolean(count)}>
      <summary>
        {title}
        {count ? ` (${count})` : ''}
      </summary>
      <div style={{ marginTop: 8 }}>{children}</div>
    </details>
  );
}
