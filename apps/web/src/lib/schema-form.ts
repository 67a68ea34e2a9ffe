/**
 * A form for a tool's arguments, built from its JSON input schema: one field per top-level
 * property that is a string, number, integer, boolean or enum of those. A schema with anything
 * else (objects, arrays, unions, refs) cannot be expressed as such a form: `formOf` answers null
 * and the caller offers raw JSON instead.
 */

export interface FieldSchema {
  type?: string | string[];
  enum?: unknown[];
  description?: string;
  title?: string;
  default?: unknown;
  [k: string]: unknown;
}

export interface ObjectSchema {
  properties?: Record<string, FieldSchema>;
  required?: string[];
  [k: string]: unknown;
}

export type FormField =
  | { name: string; kind: 'string' | 'number' | 'integer' | 'boolean'; required: boolean; description: string | null; initial: string }
  | { name: string; kind: 'enum'; options: (string | number | boolean)[]; required: boolean; description: string | null; initial: string };

const SCALARS = new Set(['string', 'number', 'integer', 'boolean']);

/** The form fields of `schema`, or null when some property cannot be a plain field. */
export function formOf(schema: ObjectSchema | undefined): FormField[] | null {
  const props = Object.entries(schema?.properties ?? {});
  const required = new Set(schema?.required ?? []);
  const fields: FormField[] = [];
  for (const [name, p] of props) {
    const description = p.description ?? p.title ?? null;
    const initial = p.default === undefined ? '' : String(p.default);
    if (Array.isArray(p.enum)) {
      const options = p.enum.filter((v): v is string | number | boolean => ['string', 'number', 'boolean'].includes(typeof v));
      if (options.length !== p.enum.length || options.length === 0) return null;
      fields.push({ name, kind: 'enum', options, required: required.has(name), description, initial });
      continue;
    }
    const type = Array.isArray(p.type) ? p.type.filter((t) => t !== 'null') : [p.type];
    if (type.length !== 1 || typeof type[0] !== 'string' || !SCALARS.has(type[0])) return null;
    fields.push({ name, kind: type[0] as 'string', required: required.has(name), description, initial });
  }
  return fields;
}

/**
 * The arguments object for the values typed into the fields (all strings, as form inputs hold
 * them; a checkbox is "true" or ""), or the errors by field name. Empty optional fields are left
 * out, so the server's own default applies.
 */
export function argumentsOf(
  fields: FormField[],
  values: Record<string, string>,
): { ok: true; arguments: Record<string, unknown> } | { ok: false; errors: Record<string, string> } {
  const out: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const raw = values[f.name] ?? '';
    if (f.kind === 'boolean') {
      if (raw !== '' || f.required) out[f.name] = raw === 'true';
      continue;
    }
    if (raw.trim() === '') {
      if (f.required) errors[f.name] = 'is required';
      continue;
    }
    if (f.kind === 'string') out[f.name] = raw;
    else if (f.kind === 'enum') {
      const option = f.options.find((o) => String(o) === raw);
      if (option === undefined) errors[f.name] = `must be one of ${f.options.map(String).join(', ')}`;
      else out[f.name] = option;
    } else {
      const n = Number(raw);
      if (!Number.isFinite(n)) errors[f.name] = 'must be a number';
      else if (f.kind === 'integer' && !Number.isInteger(n)) errors[f.name] = 'must be a whole number';
      else out[f.name] = n;
    }
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, arguments: out };
}
