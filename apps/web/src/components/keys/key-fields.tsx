'use client';

import { METADATA_REF } from '@/components/roles/paths';
import type { KeyView, MetadataValue } from '@toolgate/contracts';

/** One metadata row as typed in the form; `type` decides how the value is sent. */
export interface MetaRow {
  id: number;
  key: string;
  value: string;
  type: 'string' | 'number' | 'boolean';
}

export interface KeyDraft {
  name: string;
  roleIds: string[];
  meta: MetaRow[];
  /** YYYY-MM-DD, or '' for no expiry. */
  expires: string;
}

const META_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_DAYS = 3650;
let nextRow = 1;

export const newMetaRow = (key = '', value: MetadataValue = ''): MetaRow => ({
  id: nextRow++,
  key,
  value: String(value),
  type: typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'string',
});

export function draftFrom(k?: KeyView): KeyDraft {
  return {
    name: k?.name ?? '',
    roleIds: k?.roles.map((r) => r.id) ?? [],
    meta: k ? Object.entries(k.metadata).map(([key, v]) => newMetaRow(key, v)) : [],
    expires: k?.expiresAt ? k.expiresAt.slice(0, 10) : '',
  };
}

/** The end of the chosen day in UTC: a key "expiring on" a date works through that date. */
export const expiryIso = (date: string) => `${date}T23:59:59Z`;

const today = () => new Date().toISOString().slice(0, 10);

/** Field errors before anything is sent, keyed by field ('name', 'meta', 'expires'). */
export function validateDraft(d: KeyDraft, opts: { expiryChanged: boolean }): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!d.name.trim()) errors.name = 'Give the key a name, e.g. the agent or machine that will use it.';
  else if (d.name.trim().length > 120) errors.name = 'At most 120 characters.';
  const seen = new Set<string>();
  for (const row of d.meta) {
    if (!row.key && !row.value) continue;
    if (!META_KEY.test(row.key)) {
      errors.meta = `Metadata name "${row.key}" must be 1–64 letters, digits, "_", "." or "-".`;
      break;
    }
    if (seen.has(row.key)) {
      errors.meta = `Metadata name "${row.key}" is used twice.`;
      break;
    }
    seen.add(row.key);
    if (row.type === 'number' && (row.value.trim() === '' || !Number.isFinite(Number(row.value)))) {
      errors.meta = `"${row.key}" is marked as a number but "${row.value}" is not one.`;
      break;
    }
  }
  if (d.expires && opts.expiryChanged) {
    const max = new Date(Date.now() + MAX_DAYS * 86_400_000).toISOString().slice(0, 10);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(d.expires)) errors.expires = 'Pick a date.';
    else if (d.expires < today()) errors.expires = 'The expiry date must be today or later.';
    else if (d.expires >= max) errors.expires = `A key may live at most ${MAX_DAYS} days.`;
  }
  return errors;
}

export function metadataOf(rows: MetaRow[]): Record<string, MetadataValue> {
  const out: Record<string, MetadataValue> = {};
  for (const r of rows) {
    if (!r.key && !r.value) continue;
    out[r.key] = r.type === 'number' ? Number(r.value) : r.type === 'boolean' ? r.value === 'true' : r.value;
  }
  return out;
}

/** Name, roles (checkboxes), metadata pairs and expiry: shared by the create and edit forms. */
export function KeyFields({
  draft,
  onChange,
  roles,
  errors,
  orgSlug,
}: {
  draft: KeyDraft;
  onChange: (d: KeyDraft) => void;
  roles: { id: string; name: string; description: string | null }[];
  errors: Record<string, string>;
  orgSlug: string;
}) {
  const set = (patch: Partial<KeyDraft>) => onChange({ ...draft, ...patch });
  const setRow = (id: number, patch: Partial<MetaRow>) => set({ meta: draft.meta.map((r) => (r.id === id ? { ...r, ...patch } : r)) });
  return (
    <>
      <label className="field">
        <span>Name</span>
        <input
          name="name"
          value={draft.name}
          maxLength={120}
          onChange={(e) => set({ name: e.target.value })}
          aria-invalid={errors.name ? true : undefined}
          aria-describedby="key-name-msg"
        />
        <span id="key-name-msg" className={errors.name ? 'field-error' : 'hint'}>
          {errors.name ?? 'Shown in the audit log next to every call this key makes.'}
        </span>
      </label>

      <fieldset className="stack" style={{ border: 0, padding: 0, margin: 0, gap: 6 }}>
        <legend style={{ fontWeight: 500, marginBottom: 4 }}>Roles</legend>
        {roles.length === 0 ? (
          <p className="muted small" style={{ margin: 0 }}>
            No roles yet. A key without roles is denied every call — <a href={`/o/${orgSlug}/roles/new`}>create a role</a> first.
          </p>
        ) : (
          <div className="row" style={{ gap: 12 }}>
            {roles.map((r) => (
              <label key={r.id} className="row" style={{ gap: 6, fontWeight: 400 }} title={r.description ?? undefined}>
                <input
                  type="checkbox"
                  checked={draft.roleIds.includes(r.id)}
                  onChange={(e) =>
                    set({ roleIds: e.target.checked ? [...draft.roleIds, r.id] : draft.roleIds.filter((id) => id !== r.id) })
                  }
                />
                <span className="mono">{r.name}</span>
              </label>
            ))}
          </div>
        )}
        {errors.roleIds ? <span className="field-error small">{errors.roleIds}</span> : null}
      </fieldset>

      <fieldset className="stack" style={{ border: 0, padding: 0, margin: 0, gap: 6 }}>
        <legend style={{ fontWeight: 500, marginBottom: 4 }}>Metadata</legend>
        <span className="muted small">
          Values policies can reference as <code>{METADATA_REF}</code>, e.g. a customer id the key may only act on.
        </span>
        {draft.meta.map((row, i) => (
          <div key={row.id} className="row" style={{ flexWrap: 'wrap' }}>
            <input
              aria-label={`Metadata name ${i + 1}`}
              placeholder="name"
              value={row.key}
              onChange={(e) => setRow(row.id, { key: e.target.value })}
              style={{ flex: '1 1 120px' }}
            />
            {row.type === 'boolean' ? (
              <select
                aria-label={`Metadata value ${i + 1}`}
                value={row.value === 'true' ? 'true' : 'false'}
                onChange={(e) => setRow(row.id, { value: e.target.value })}
                style={{ flex: '1 1 120px' }}
              >
                <option value="true">true</option>
                <option value="false">false</option>
              </select>
            ) : (
              <input
                aria-label={`Metadata value ${i + 1}`}
                placeholder="value"
                inputMode={row.type === 'number' ? 'decimal' : undefined}
                value={row.value}
                onChange={(e) => setRow(row.id, { value: e.target.value })}
                style={{ flex: '2 1 160px' }}
              />
            )}
            <select
              aria-label={`Metadata type ${i + 1}`}
              value={row.type}
              onChange={(e) => {
                const type = e.target.value as MetaRow['type'];
                setRow(row.id, { type, value: type === 'boolean' ? 'true' : row.value });
              }}
            >
              <option value="string">text</option>
              <option value="number">number</option>
              <option value="boolean">true/false</option>
            </select>
            <button
              type="button"
              className="btn small ghost"
              aria-label={`Remove metadata ${row.key || i + 1}`}
              onClick={() => set({ meta: draft.meta.filter((r) => r.id !== row.id) })}
            >
              Remove
            </button>
          </div>
        ))}
        <div>
          <button type="button" className="btn small" onClick={() => set({ meta: [...draft.meta, newMetaRow()] })}>
            Add metadata
          </button>
        </div>
        {errors.meta ? (
          <span className="field-error small" role="alert" style={{ color: 'var(--danger)' }}>
            {errors.meta}
          </span>
        ) : null}
      </fieldset>

      <label className="field">
        <span>Expires on (optional)</span>
        <input
          type="date"
          name="expires"
          value={draft.expires}
          min={today()}
          onChange={(e) => set({ expires: e.target.value })}
          aria-invalid={errors.expires ? true : undefined}
          style={{ maxWidth: 220 }}
        />
        <span className={errors.expires ? 'field-error' : 'hint'}>
          {errors.expires ?? 'The key stops working at the end of this day (UTC). Leave empty for a key that does not expire.'}
        </span>
      </label>
    </>
  );
}
