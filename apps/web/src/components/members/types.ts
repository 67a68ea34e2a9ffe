import type { MemberRole } from '@/lib/access';

/** `GET /v1/orgs/:org/members` items (apps/api members.dto MemberView). */
export interface MemberView {
  userId: string;
  email: string;
  name: string;
  role: MemberRole;
  joinedAt: string;
}

/** `GET /v1/orgs/:org/invitations` items: pending invitations, never their tokens. */
export interface InvitationView {
  id: string;
  email: string;
  role: MemberRole;
  expiresAt: string;
  createdAt: string;
  invitedBy: { id: string; email: string; name: string } | null;
}

export const ROLES: { value: MemberRole; label: string; help: string }[] = [
  { value: 'owner', label: 'Owner', help: 'everything, including deleting the organisation and billing' },
  { value: 'admin', label: 'Admin', help: 'manages servers, keys, roles, secrets and members' },
  { value: 'member', label: 'Member', help: 'sees servers, keys, roles, the audit log and usage' },
  { value: 'billing', label: 'Billing', help: 'sees usage, plan and invoices only' },
];

/** The roles `actor` may hand out: only an owner grants the owner role (the API's rule). */
export const grantable = (actor: MemberRole) => ROLES.filter((r) => r.value !== 'owner' || actor === 'owner');
