/**
 * What activity and audit entries point at, by the `targetType` the API records: the page that
 * shows it, and its current name. One table, so the activity log and the audit log name and link
 * the same things the same way.
 */

/** Current names of the org's things by id, as the pages that list entries load them. */
export interface TargetNames {
  servers: Record<string, string>;
  keys: Record<string, string>;
  roles: Record<string, string>;
  /** Members by user id: their e-mail address. */
  members: Record<string, string>;
}

export const NO_NAMES: TargetNames = { servers: {}, keys: {}, roles: {}, members: {} };

/** Things with a page of their own: linked while they exist (a deleted one has no page). */
const DETAIL: Record<string, { names: keyof TargetNames; path: string }> = {
  server: { names: 'servers', path: 'servers' },
  key: { names: 'keys', path: 'keys' },
  role: { names: 'roles', path: 'roles' },
};

/** Things shown on a list page (members, secrets…): linked to that page. */
const LIST: Record<string, string> = {
  member: 'members',
  invitation: 'members',
  secret: 'secrets',
  management_token: 'tokens',
  oauth_grant: 'apps',
  org: 'settings',
  billing: 'billing',
};

export interface Target {
  /** The thing's current name, when it still exists and has one. */
  name: string | null;
  /** Where it is shown in the dashboard, when it still exists there. */
  href: string | null;
}

export function resolveTarget(org: string, type: string, id: string | null, names: TargetNames): Target {
  const base = `/o/${org}`;
  const detail = DETAIL[type];
  if (detail) {
    const name = id ? (names[detail.names][id] ?? null) : null;
    return { name, href: name !== null && id ? `${base}/${detail.path}/${id}` : null };
  }
  const list = LIST[type];
  const name = type === 'member' && id ? (names.members[id] ?? null) : null;
  return { name, href: list ? `${base}/${list}` : null };
}

/** An admin audit entry's target, `<targetType>:<targetId>` or the type alone, split apart. */
export function splitAdminTarget(target: string | null): { type: string; id: string | null } | null {
  if (!target) return null;
  const at = target.indexOf(':');
  return at < 0 ? { type: target, id: null } : { type: target.slice(0, at), id: target.slice(at + 1) };
}
