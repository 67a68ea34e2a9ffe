import type { MemberRole } from '@/lib/access';

/** How the dashboard names and explains each membership role; the shapes are in @toolgate/contracts (api/members.ts). */
export const ROLES: { value: MemberRole; label: string; help: string }[] = [
  { value: 'owner', label: 'Owner', help: 'everything, including deleting the organisation and billing' },
  { value: 'admin', label: 'Admin', help: 'manages servers, keys, roles, secrets and members' },
  { value: 'member', label: 'Member', help: 'sees servers, keys, roles, the audit log and usage' },
  { value: 'billing', label: 'Billing', help: 'sees usage, plan and invoices only' },
];

/** The roles `actor` may hand out: only an owner grants the owner role (the API's rule). */
export const grantable = (actor: MemberRole) => ROLES.filter((r) => r.value !== 'owner' || actor === 'owner');
