import { redirect } from 'next/navigation';
import { getMe } from '@/lib/me';

/** Home: the first organisation, or the page that creates one. */
export default async function Home() {
  const me = await getMe();
  redirect(me.orgs[0] ? `/o/${me.orgs[0].slug}` : '/orgs');
}
