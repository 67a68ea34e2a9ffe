import { cache } from 'react';
import type { MemberRole } from './access';
import { api } from './api';

export interface Me {
  id: string;
  email: string;
  name: string;
  createdAt: string;
  orgs: { id: string; slug: string; name: string; role: MemberRole }[];
}

/** The signed-in person and their organisations, fetched once per request. */
export const getMe = cache(() => api<Me>('/v1/me'));

/** The person's membership in `slug`, or notFound() when they are not a member. */
export const getMembership = cache(async (slug: string) => {
  const me = await getMe();
  const org = me.orgs.find((o) => o.slug === slug.toLowerCase());
  return { me, org };
});
