'use client';

import { useId, useState } from 'react';
import { METADATA_REF } from './paths';
import type { ParamConstraint } from '@toolgate/contracts';

/** One argument of a tool's input schema, as far as constraints care. */
export interface SchemaField {
  type?: string;
  enum?: (string | number | boolean)[];
  description?: string;
}

/** The top-level properties of tools' JSON Schemas, merged (the first tool to describe a field wins). */
export function schemaFields(schemas: unknown[]): Record<string, SchemaField> {
  const out: Record<string, SchemaField> = {};
  for (const schema of schemas) {
    const props = (schema as { properties?: unknown } | null)?.properties;
    if (typeof props !== 'object' || props === null) continue;
    for (const [name, raw] of Object.entries(props as Record<string, Record<string, unknown>>)) {
      if (out[name] || typeof raw !== 'object' || raw === null) continue;
      const type = Array.isArray(raw.type) ? String(raw.type[0]) : typeof raw.type === 'string' ? raw.type : undefined;
      out[name] = {
        type,
        enum: Array.isArray(raw.enum) ? (raw.enum as (string | number | boolean)[]) : undefined,
        description: typeof raw.description === 'string' ? raw.description : undefined,
      };
    }
  }
  return out;
}

type Constraints = Record<string, ParamConstraint>;
const isNumeric = (s: string) => /^-?\d+(\.\d+)?$/.test(s.trim());

/**
 * Argument constraints of one allow rule, offered from the input schemas of the tools the rule
 * matches: an enum becomes "only these values", numbers get bounds, strings a value, a pattern
 * and a length. Typed values stay as typed, so the validation can point at a wrong one.
 */
export function ConstraintEditor({
  constraints,
  fields,
  pathPrefix,
  errors,
  onChange,
}: {
  constraints: Constraints | undefined;
  fields: Record<string, SchemaField>;
  /** `rules.tools.0.constraints`: where the validation reports this rule's constraints. */
  pathPrefix: string;
  errors: Map<string, string>;
  onChange: (next: Constraints | undefined) => void;
}) {
  const uid = useId();
  const [other, setOther] = useState('');
  const current = constraints && typeof constraints === 'object' ? constraints : {};
  const unused = Object.keys(fields).filter((f) => !(f in current));
  const set = (arg: string, c: ParamConstraint | undefined) => {
    const next = { ...current };
    if (c === undefined) delete next[arg];
    else next[arg] = c;
    onChange(Object.keys(next).length ? next : undefined);
  };
  const groupError = errors.get(pathPrefix);

  return (
    <div className="stack" style={{ gap: 8 }}>
      {Object.entries(current).map(([arg, c]) => (
        <ArgumentConstraint
          key={arg}
          arg={arg}
          constraint={c && typeof c === 'object' ? c : {}}
          field={fields[arg]}
          path={`${pathPrefix}.${arg}`}
          errors={errors}
          onChange={(next) => set(arg, next)}
        />
      ))}
      {groupError ? <span className="field-error">{groupError}</span> : null}
      <div className="row" style={{ gap: 8 }}>
        {unused.length > 0 ? (
          <label className="field" style={{ margin: 0 }}>
            <span className="small">Add a constraint on an argument</span>
            <select
              value=""
              onChange={(e) => {
                if (e.target.value) set(e.target.value, {});
              }}
            >
              <option value="">Choose an argument…</option>
              {unused.map((f) => (
                <option key={f} value={f}>
                  {f}
                  {fields[f]?.type ? ` (${fields[f]?.enum ? 'one of a list' : fields[f]?.type})` : ''}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <label className="field" style={{ margin: 0 }}>
          <span className="small">{unused.length ? 'or another argument by name' : 'Constrain an argument by name'}</span>
          <span className="row" style={{ gap: 6, flexWrap: 'nowrap' }}>
            <input
              id={`${uid}-other`}
              value={other}
              onChange={(e) => setOther(e.target.value)}
              placeholder="customer_id"
              autoComplete="off"
            />
            <button
              type="button"
              className="btn small"
              disabled={!other.trim() || other.trim() in current}
              onClick={() => {
                set(other.trim(), {});
                setOther('');
              }}
            >
              Add
            </button>
          </span>
        </label>
      </div>
    </div>
  );
}

function ArgumentConstraint({
  arg,
  constraint,
  field,
  path,
  errors,
  onChange,
}: {
  arg: string;
  constraint: ParamConstraint;
  field: SchemaField | undefined;
  path: string;
  errors: Map<string, string>;
  onChange: (next: ParamConstraint | undefined) => void;
}) {
  const uid = useId();
  const patch = (p: Partial<Record<keyof ParamConstraint, unknown>>) => {
    const next: Record<string, unknown> = { ...constraint, ...p };
    for (const [k, v] of Object.entries(p)) if (v === undefined) delete next[k];
    onChange(next as ParamConstraint);
  };
  const type = field?.type;
  const numeric = type === 'number' || type === 'integer';
  const err = (key: string) => errors.get(`${path}.${key}`);
  const text = (key: keyof ParamConstraint, label: string, hint?: string, asNumber = false) => {
    const value = constraint[key];
    const e = err(key);
    return (
      <label className="field" style={{ margin: 0 }}>
        <span className="small">{label}</span>
        <input
          value={value === undefined ? '' : String(value)}
          inputMode={asNumber ? 'decimal' : undefined}
          aria-label={`${arg}: ${label}`}
          aria-invalid={e ? true : undefined}
          onChange={(ev) => {
            const raw = ev.target.value;
            // Numbers are stored as numbers; anything else as typed, so the validation can name it.
            patch({ [key]: raw === '' ? undefined : asNumber && isNumeric(raw) ? Number(raw) : raw });
          }}
          autoComplete="off"
        />
        {e ? <span className="field-error">{e}</span> : hint ? <span className="hint">{hint}</span> : null}
      </label>
    );
  };
  const oneOf = Array.isArray(constraint.oneOf) ? constraint.oneOf : undefined;

  return (
    <fieldset className="stack" style={{ gap: 6 }} data-testid={`constraint-${arg}`}>
      <legend>
        Argument <code>{arg}</code>
        {type ? <span className="muted small"> · {field?.enum ? `one of ${field.enum.length} values` : type}</span> : null}
      </legend>
      {field?.description ? <span className="muted small">{field.description}</span> : null}
      {field?.enum ? (
        <div className="stack" style={{ gap: 4 }}>
          <span className="small">Only these values:</span>
          <div className="row" style={{ gap: 10 }}>
            {field.enum.map((v) => (
              <label key={String(v)} className="row" style={{ gap: 4 }}>
                <input
                  type="checkbox"
                  aria-label={`${arg} may be ${String(v)}`}
                  checked={oneOf?.includes(v) ?? false}
                  onChange={(e) => {
                    const next = e.target.checked ? [...(oneOf ?? []), v] : (oneOf ?? []).filter((x) => x !== v);
                    patch({ oneOf: next.length ? next : undefined });
                  }}
                />
                <code>{String(v)}</code>
              </label>
            ))}
          </div>
          {err('oneOf') ? <span className="field-error">{err('oneOf')}</span> : null}
        </div>
      ) : type === 'boolean' ? (
        <label className="field" style={{ margin: 0 }}>
          <span className="small">Must be</span>
          <select
            aria-label={`${arg}: must be`}
            value={constraint.equals === undefined ? '' : String(constraint.equals)}
            onChange={(e) => patch({ equals: e.target.value === '' ? undefined : e.target.value === 'true' })}
          >
            <option value="">either</option>
            <option value="true">true</option>
            <option value="false">false</option>
          </select>
        </label>
      ) : (
        <div className="grid" style={{ gap: 8 }}>
          {text('equals', 'Must equal', `A value, or ${METADATA_REF}`, numeric)}
          {numeric ? (
            <>
              {text('min', 'Minimum', undefined, true)}
              {text('max', 'Maximum', undefined, true)}
            </>
          ) : type === 'string' ? (
            <>
              {text('pattern', 'Must match (regular expression)', 'e.g. ^/tmp/')}
              {text('maxLength', 'At most this many characters', undefined, true)}
            </>
          ) : (
            <>
              {text('pattern', 'Must match (regular expression)')}
              {text('min', 'Minimum', undefined, true)}
              {text('max', 'Maximum', undefined, true)}
              {text('maxLength', 'At most this many characters', undefined, true)}
            </>
          )}
        </div>
      )}
      {!field?.enum && type !== 'boolean' ? (
        <ListInput arg={arg} values={oneOf} numeric={numeric} error={err('oneOf')} onChange={(v) => patch({ oneOf: v })} />
      ) : null}
      <div className="row" style={{ gap: 12 }}>
        <label className="row" style={{ gap: 4 }}>
          <input
            id={`${uid}-req`}
            type="checkbox"
            checked={constraint.required === true}
            onChange={(e) => patch({ required: e.target.checked ? true : undefined })}
          />
          <span className="small">Required: calls without {arg} are refused</span>
        </label>
        <span className="spacer" />
        <button
          type="button"
          className="btn small ghost"
          onClick={() => onChange(undefined)}
          aria-label={`Remove the constraint on ${arg}`}
        >
          Remove
        </button>
      </div>
      {errors.get(path) ? <span className="field-error">{errors.get(path)}</span> : null}
    </fieldset>
  );
}

/**
 * "Only one of these values" for a field without an enum: comma-separated. The text is kept as
 * typed while the field has focus (so "a, " can become "a, b"); the list is what is stored.
 */
function ListInput({
  arg,
  values,
  numeric,
  error,
  onChange,
}: {
  arg: string;
  values: (string | number | boolean)[] | undefined;
  numeric: boolean;
  error: string | undefined;
  onChange: (next: (string | number | boolean)[] | undefined) => void;
}) {
  const [typing, setTyping] = useState<string | null>(null);
  return (
    <label className="field" style={{ margin: 0 }}>
      <span className="small">Only one of (comma-separated, optional)</span>
      <input
        aria-label={`${arg}: only one of`}
        value={typing ?? (values ?? []).map(String).join(', ')}
        aria-invalid={error ? true : undefined}
        onChange={(e) => {
          setTyping(e.target.value);
          const items = e.target.value
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
            .map((x) => (numeric && isNumeric(x) ? Number(x) : x));
          onChange(items.length ? items : undefined);
        }}
        onBlur={() => setTyping(null)}
        autoComplete="off"
      />
      {error ? <span className="field-error">{error}</span> : null}
    </label>
  );
}
