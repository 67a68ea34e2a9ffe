import { type MemberRole, roleMay } from '@toolgate/contracts/src/member-roles';

/** Pure rules of who may do what: no fetching, so client components and tests can import it. */
export type { MemberRole };

/** What each role may do: the table the API's guards allow by (ROLE_MATRIX in @toolgate/contracts). */
export const can = {
  read: (r: MemberRole) => roleMay(r, 'read'),
  manage: (r: MemberRole) => roleMay(r, 'manage'),
  billing: (r: MemberRole) => roleMay(r, 'billing'),
  owner: (r: MemberRole) => roleMay(r, 'owner'),
};

/** What a role must be able to do to open an org page (one of `can` above). */
export type Need = 'read' | 'manage' | 'billing';

/** First match wins. Paths are relative to `/o/{org}`; pages not listed are open to every member. */
const RULES: ReadonlyArray<readonly [RegExp, Need]> = [
  [/^\/(servers\/new|servers\/import|servers\/[^/]+\/edit|roles\/new|activity|tokens)\/?$/, 'manage'],
  [/^\/billing\/?$/, 'billing'],
  [/^\/(servers|keys|apps|roles|secrets|audit)(\/|$)/, 'read'],
];

export function accessNeeded(orgPath: string): Need | null {
  for (const [pattern, need] of RULES) if (pattern.test(orgPath)) return need;
  return null;
}

/**
 * Whether `role` may open `path` (a full dashboard path such as `/o/acme/servers/new?x=1`).
 *
 * The org layout checks this before anything streams, so a direct load of a page the role may not
 * open answers HTTP 403 (pages inside the loading boundary can only change the UI, not the status).
 * Each page still checks its own rule, because layouts are not re-rendered on client navigation.
 */
export function mayOpen(role: MemberRole, path: string): boolean {
  const m = /^\/o\/[^/?#]+([^?#]*)/.exec(path);
  if (!m) return true;
  const need = accessNeeded(m[1] ?? '');
  return need === null || can[need](role);
}

/**
 * Where opening an org (`/o/{org}`) takes a role, relative to `/o/{org}`: billing members cannot
 * use servers or keys, so the overview's key instructions are no use to them; billing is.
 */
export function landingPath(role: MemberRole): '' | '/billing' {
  return role === 'billing' ? '/billing' : '';
}
