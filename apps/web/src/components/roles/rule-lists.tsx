// biome-ignore-all lint/suspicious/noArrayIndexKey: rules are positional (their paths are indices), so the index is their identity.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the literal metadata reference syntax, shown as help.
'use client';

import type { ReactNode } from 'react';
import { type Catalogue, type CatalogueItem, closest, matchedBy, resourcesMatchedBy } from './catalogue';
import { ConstraintEditor, schemaFields } from './constraint-editor';
import { addRule, patchRule, removeRule, type Section } from './draft';
import { METADATA_REF } from './paths';
import styles from './role-editor.module.css';
import type { RoleRules } from '@toolgate/contracts';

interface ListProps {
  rules: RoleRules;
  catalogue: Catalogue;
  errors: Map<string, string>;
  onChange: (rules: RoleRules) => void;
}

type Row = Record<string, unknown>;
const rowsOf = (rules: RoleRules, section: Section): Row[] => {
  const v = (rules as Record<string, unknown>)[section];
  return Array.isArray(v) ? (v as Row[]).map((r) => (r && typeof r === 'object' ? r : {})) : [];
};
const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));
const num = (raw: string) => (raw === '' ? undefined : /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw);

/** A labelled input whose error, if the validation found one at `path`, sits right under it. */
function Field({
  label,
  path,
  errors,
  children,
  hint,
}: {
  label: string;
  path: string;
  errors: Map<string, string>;
  children: ReactNode;
  hint?: ReactNode;
}) {
  const e = errors.get(path);
  return (
    // biome-ignore lint/a11y/noLabelWithoutControl: every caller passes the input as children.
    <label className="field" style={{ margin: 0 }} data-invalid={e ? 'true' : undefined}>
      <span className="small">{label}</span>
      {children}
      {e ? (
        <span className="field-error" data-testid="field-error" data-path={path}>
          {e}
        </span>
      ) : hint ? (
        <span className="hint">{hint}</span>
      ) : null}
    </label>
  );
}

function EffectSelect({
  value,
  path,
  errors,
  label,
  onChange,
}: {
  value: unknown;
  path: string;
  errors: Map<string, string>;
  label: string;
  onChange: (v: string) => void;
}) {
  const known = value === 'allow' || value === 'deny';
  return (
    <Field label="Effect" path={path} errors={errors}>
      <select
        aria-label={label}
        value={str(value)}
        aria-invalid={errors.has(path) ? true : undefined}
        onChange={(e) => onChange(e.target.value)}
      >
        {!known ? <option value={str(value)}>{str(value) || '—'} (not valid)</option> : null}
        <option value="allow">allow</option>
        <option value="deny">deny</option>
      </select>
    </Field>
  );
}

/** "Matches 2 tools: echo, get-sum", or a warning when a rule matches nothing the servers offer. */
export function Matches({
  matched,
  pattern,
  items,
  noun,
  probed,
}: {
  matched: CatalogueItem[];
  pattern: unknown;
  items: CatalogueItem[];
  noun: string;
  probed: boolean;
}) {
  if (!probed) return <span className="muted small">No server has been probed yet: matches show once one has.</span>;
  if (matched.length === 0) {
    const guess = closest(pattern, items);
    return (
      <span className={`small ${styles.warn}`} data-testid="no-match-warning">
        ⚠ Matches no {noun} of your servers’ catalogues{guess ? ` — did you mean ${guess}?` : ''}. It would still be saved, and match
        nothing.
      </span>
    );
  }
  const shown = matched.slice(0, 8).map((m) => m.subject);
  return (
    <span className="small" data-testid="rule-matches">
      Matches {matched.length} {noun}
      {matched.length === 1 ? '' : 's'}: <code style={{ overflowWrap: 'anywhere' }}>{shown.join(', ')}</code>
      {matched.length > shown.length ? ` and ${matched.length - shown.length} more` : ''}
    </span>
  );
}

function RemoveButton({ label, onClick }: { label: string; onClick: () => void }) {
  return (
    <button type="button" className="btn small ghost" aria-label={label} onClick={onClick}>
      Remove
    </button>
  );
}

/** Tool rules in order: effect, pattern, what it matches, and (allow rules) argument constraints. */
export function ToolRules({ rules, catalogue, errors, onChange }: ListProps) {
  const rows = rowsOf(rules, 'tools');
  return (
    <div className="stack" style={{ gap: 8 }}>
      {rows.map((r, i) => {
        const path = `rules.tools.${i}`;
        const matched = matchedBy(r.match, catalogue.tools);
        const fields = schemaFields(matched.map((m) => m.inputSchema));
        return (
          <div key={i} className={styles.rule} data-testid="tool-rule">
            <div className={styles.ruleHead}>
              <EffectSelect
                value={r.effect}
                path={`${path}.effect`}
                errors={errors}
                label={`Effect of tool rule ${i + 1}`}
                onChange={(v) => onChange(patchRule(rules, 'tools', i, { effect: v }))}
              />
              <Field label="Tool (server__tool, * and ? are wildcards)" path={`${path}.match`} errors={errors}>
                <input
                  aria-label={`Match of tool rule ${i + 1}`}
                  value={str(r.match)}
                  list="builder-tool-names"
                  autoComplete="off"
                  spellCheck={false}
                  onChange={(e) => onChange(patchRule(rules, 'tools', i, { match: e.target.value }))}
                />
              </Field>
              <RemoveButton label={`Remove tool rule ${i + 1}`} onClick={() => onChange(removeRule(rules, 'tools', i))} />
            </div>
            <Matches matched={matched} pattern={r.match} items={catalogue.tools} noun="tool" probed={catalogue.probed} />
            {r.effect === 'allow' ? (
              <details open={r.constraints !== undefined}>
                <summary className="small">
                  Argument constraints{r.constraints ? ` (${Object.keys(r.constraints as object).length})` : ''}
                </summary>
                <ConstraintEditor
                  constraints={r.constraints as never}
                  fields={fields}
                  pathPrefix={`${path}.constraints`}
                  errors={errors}
                  onChange={(c) => onChange(patchRule(rules, 'tools', i, { constraints: c }))}
                />
              </details>
            ) : errors.get(`${path}.constraints`) ? (
              <span className="field-error">{errors.get(`${path}.constraints`)}</span>
            ) : null}
          </div>
        );
      })}
      <datalist id="builder-tool-names">
        {catalogue.tools.map((t) => (
          <option key={t.subject} value={t.subject} />
        ))}
      </datalist>
      <div>
        <button type="button" className="btn small" onClick={() => onChange(addRule(rules, 'tools', { effect: 'allow', match: '' }))}>
          Add a tool rule by pattern
        </button>
      </div>
    </div>
  );
}

/** The frame of a pattern rule list: per rule an effect, the section's own fields, a remove button and what it matches. */
function PatternRules({
  rules,
  errors,
  onChange,
  section,
  noun,
  blank,
  fields,
  matches,
}: Omit<ListProps, 'catalogue'> & {
  section: 'prompts' | 'resources';
  noun: string;
  blank: Row;
  fields: (r: Row, i: number, path: string, patch: (p: Row) => void) => ReactNode;
  matches: (r: Row) => ReactNode;
}) {
  const rows = rowsOf(rules, section);
  return (
    <div className="stack" style={{ gap: 8 }}>
      {rows.map((r, i) => {
        const path = `rules.${section}.${i}`;
        const patch = (p: Row) => onChange(patchRule(rules, section, i, p));
        return (
          <div key={i} className={styles.rule}>
            <div className={styles.ruleHead}>
              <EffectSelect
                value={r.effect}
                path={`${path}.effect`}
                errors={errors}
                label={`Effect of ${noun} rule ${i + 1}`}
                onChange={(v) => patch({ effect: v })}
              />
              {fields(r, i, path, patch)}
              <RemoveButton label={`Remove ${noun} rule ${i + 1}`} onClick={() => onChange(removeRule(rules, section, i))} />
            </div>
            {matches(r)}
          </div>
        );
      })}
      <div>
        <button type="button" className="btn small" onClick={() => onChange(addRule(rules, section, blank))}>
          Add a {noun} rule by pattern
        </button>
      </div>
    </div>
  );
}

export function PromptRules({ rules, catalogue, errors, onChange }: ListProps) {
  return (
    <PatternRules
      rules={rules}
      errors={errors}
      onChange={onChange}
      section="prompts"
      noun="prompt"
      blank={{ effect: 'allow', match: '' }}
      fields={(r, i, path, patch) => (
        <Field label="Prompt (server__prompt)" path={`${path}.match`} errors={errors}>
          <input
            aria-label={`Match of prompt rule ${i + 1}`}
            value={str(r.match)}
            autoComplete="off"
            spellCheck={false}
            onChange={(e) => patch({ match: e.target.value })}
          />
        </Field>
      )}
      matches={(r) => (
        <Matches
          matched={matchedBy(r.match, catalogue.prompts)}
          pattern={r.match}
          items={catalogue.prompts}
          noun="prompt"
          probed={catalogue.probed}
        />
      )}
    />
  );
}

export function ResourceRules({ rules, catalogue, errors, onChange }: ListProps) {
  return (
    <PatternRules
      rules={rules}
      errors={errors}
      onChange={onChange}
      section="resources"
      noun="resource"
      blank={{ effect: 'allow', uri: '' }}
      fields={(r, i, path, patch) => (
        <>
          <Field label="Server (glob, empty = any)" path={`${path}.server`} errors={errors}>
            <input
              aria-label={`Server of resource rule ${i + 1}`}
              value={str(r.server)}
              autoComplete="off"
              onChange={(e) => patch({ server: e.target.value || undefined })}
            />
          </Field>
          <Field label="URI (glob)" path={`${path}.uri`} errors={errors}>
            <input
              aria-label={`URI of resource rule ${i + 1}`}
              value={str(r.uri)}
              autoComplete="off"
              spellCheck={false}
              onChange={(e) => patch({ uri: e.target.value })}
            />
          </Field>
        </>
      )}
      matches={(r) => (
        <Matches
          matched={resourcesMatchedBy(r, catalogue.resources)}
          pattern={r.uri}
          items={catalogue.resources}
          noun="resource"
          probed={catalogue.probed}
        />
      )}
    />
  );
}

/** Rate limits: calls per minute per key, or per key and tool for the tools a glob matches. */
export function RateLimits({ rules, catalogue, errors, onChange }: ListProps) {
  const rows = rowsOf(rules, 'rateLimits');
  return (
    <div className="stack" style={{ gap: 8 }}>
      {rows.map((r, i) => {
        const path = `rules.rateLimits.${i}`;
        return (
          <div key={i} className={styles.rule} data-testid="rate-limit">
            <div className={styles.ruleHead}>
              <Field label="Counted" path={`${path}.scope`} errors={errors}>
                <select
                  aria-label={`Scope of rate limit ${i + 1}`}
                  value={str(r.scope)}
                  onChange={(e) =>
                    onChange(
                      patchRule(rules, 'rateLimits', i, {
                        scope: e.target.value,
                        ...(e.target.value === 'key' ? { match: undefined } : {}),
                      }),
                    )
                  }
                >
                  {r.scope !== 'key' && r.scope !== 'tool' ? <option value={str(r.scope)}>{str(r.scope) || '—'} (not valid)</option> : null}
                  <option value="key">per key (all its calls)</option>
                  <option value="tool">per key and tool</option>
                </select>
              </Field>
              <Field label="Calls per minute" path={`${path}.perMinute`} errors={errors}>
                <input
                  aria-label={`Calls per minute of rate limit ${i + 1}`}
                  inputMode="numeric"
                  value={str(r.perMinute)}
                  aria-invalid={errors.has(`${path}.perMinute`) ? true : undefined}
                  onChange={(e) => onChange(patchRule(rules, 'rateLimits', i, { perMinute: num(e.target.value) }))}
                />
              </Field>
              <Field label="Burst (optional)" path={`${path}.burst`} errors={errors}>
                <input
                  aria-label={`Burst of rate limit ${i + 1}`}
                  inputMode="numeric"
                  value={str(r.burst)}
                  onChange={(e) => onChange(patchRule(rules, 'rateLimits', i, { burst: num(e.target.value) }))}
                />
              </Field>
              {r.scope === 'tool' ? (
                <Field label="For tools (glob)" path={`${path}.match`} errors={errors}>
                  <input
                    aria-label={`Tools of rate limit ${i + 1}`}
                    value={str(r.match)}
                    list="builder-tool-names"
                    autoComplete="off"
                    onChange={(e) => onChange(patchRule(rules, 'rateLimits', i, { match: e.target.value || undefined }))}
                  />
                </Field>
              ) : null}
              <RemoveButton label={`Remove rate limit ${i + 1}`} onClick={() => onChange(removeRule(rules, 'rateLimits', i))} />
            </div>
            {r.scope === 'tool' && r.match !== undefined ? (
              <Matches
                matched={matchedBy(r.match, catalogue.tools)}
                pattern={r.match}
                items={catalogue.tools}
                noun="tool"
                probed={catalogue.probed}
              />
            ) : null}
          </div>
        );
      })}
      <div>
        <button type="button" className="btn small" onClick={() => onChange(addRule(rules, 'rateLimits', { scope: 'key', perMinute: 60 }))}>
          Add a rate limit
        </button>
      </div>
    </div>
  );
}

/** Redaction: patterns whose matches are replaced in what leaves the gateway and in the audit log. */
export function Redactions({ rules, errors, onChange }: ListProps) {
  const rows = rowsOf(rules, 'redact');
  return (
    <div className="stack" style={{ gap: 8 }}>
      {rows.map((r, i) => {
        const path = `rules.redact.${i}`;
        return (
          <div key={i} className={styles.ruleHead}>
            <Field label="Name" path={`${path}.name`} errors={errors}>
              <input
                aria-label={`Name of redaction ${i + 1}`}
                value={str(r.name)}
                autoComplete="off"
                onChange={(e) => onChange(patchRule(rules, 'redact', i, { name: e.target.value }))}
              />
            </Field>
            <Field label="Pattern (regular expression)" path={`${path}.pattern`} errors={errors}>
              <input
                aria-label={`Pattern of redaction ${i + 1}`}
                value={str(r.pattern)}
                autoComplete="off"
                spellCheck={false}
                onChange={(e) => onChange(patchRule(rules, 'redact', i, { pattern: e.target.value }))}
              />
            </Field>
            <Field label="Replace with (optional)" path={`${path}.replacement`} errors={errors} hint="Default [REDACTED]">
              <input
                aria-label={`Replacement of redaction ${i + 1}`}
                value={str(r.replacement)}
                autoComplete="off"
                onChange={(e) => onChange(patchRule(rules, 'redact', i, { replacement: e.target.value || undefined }))}
              />
            </Field>
            <RemoveButton label={`Remove redaction ${i + 1}`} onClick={() => onChange(removeRule(rules, 'redact', i))} />
          </div>
        );
      })}
      <div>
        <button type="button" className="btn small" onClick={() => onChange(addRule(rules, 'redact', { name: '', pattern: '' }))}>
          Add a redaction
        </button>
      </div>
    </div>
  );
}

/** Addresses keys with this role may connect from; empty = anywhere. */
export function IpAllow({ rules, errors, onChange }: ListProps) {
  const rows = Array.isArray(rules.ipAllow) ? rules.ipAllow : [];
  const set = (items: unknown[]) => onChange({ ...rules, ipAllow: items as string[] });
  return (
    <div className="stack" style={{ gap: 8 }}>
      {rows.map((v, i) => (
        <div key={i} className={styles.ruleHead}>
          <Field label={`Address or CIDR block ${i + 1}`} path={`rules.ipAllow.${i}`} errors={errors}>
            <input
              value={str(v)}
              placeholder="203.0.113.0/24"
              autoComplete="off"
              onChange={(e) => set(rows.map((x, j) => (j === i ? e.target.value : x)))}
            />
          </Field>
          <RemoveButton label={`Remove address ${i + 1}`} onClick={() => set(rows.filter((_, j) => j !== i))} />
        </div>
      ))}
      <div>
        <button type="button" className="btn small" onClick={() => set([...rows, ''])}>
          Add an address
        </button>
      </div>
    </div>
  );
}

/** The `${key.metadata.…}` syntax, explained where constraint values are written. */
export function MetadataHelp() {
  return (
    <p className="muted small" style={{ margin: 0 }} data-testid="metadata-help">
      A constraint value may be <code>{METADATA_REF}</code>: it stands for that metadata entry of the key making the call. For example,
      “customer_id must equal <code>{'${key.metadata.customer_id}'}</code>” lets each key use only its own customer; a key without that
      entry is refused. Metadata is set on the key (Agent keys › the key › Metadata).
    </p>
  );
}
