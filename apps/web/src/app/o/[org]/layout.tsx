import { headers } from 'next/headers';
import { forbidden, notFound } from 'next/navigation';
import { type ReactNode, Suspense } from 'react';
import { OrgBanners } from '@/components/guard-rails/org-banners';
import { type NavItem, Shell } from '@/components/shell';
import { can, landingPath, mayOpen } from '@/lib/access';
import { getMembership } from '@/lib/me';

export default async function OrgLayout({ children, params }: { children: ReactNode; params: Promise<{ org: string }> }) {
  const { org: slug } = await params;
  const { me, org } = await getMembership(slug);
  if (!org) notFound();
  // Before anything streams, so a direct load of a page this role may not open answers 403.
  if (!mayOpen(org.role, (await headers()).get('x-tg-path') ?? '')) forbidden();
  const base = `/o/${org.slug}`;
  const r = org.role;
  const nav: (NavItem | false)[] = [
    // A billing member's landing page is billing (see landingPath): no overview of keys they cannot use.
    landingPath(r) === '' && { href: base, label: 'Overview' },
    can.read(r) && { href: `${base}/servers`, label: 'MCP servers' },
    can.read(r) && { href: `${base}/keys`, label: 'Agent keys' },
    can.read(r) && { href: `${base}/apps`, label: 'Connected apps' },
    can.read(r) && { href: `${base}/roles`, label: 'Roles & policies' },
    can.read(r) && { href: `${base}/secrets`, label: 'Secrets' },
    can.read(r) && { href: `${base}/audit`, label: 'Audit log' },
    { href: `${base}/usage`, label: 'Usage' },
    can.billing(r) && { href: `${base}/billing`, label: 'Billing' },
    { href: `${base}/webhooks`, label: 'Webhooks' },
    { href: `${base}/members`, label: 'Members' },
    can.manage(r) && { href: `${base}/tokens`, label: 'API tokens' },
    can.manage(r) && { href: `${base}/activity`, label: 'Activity' },
    { href: `${base}/settings`, label: 'Settings' },
  ];
  return (
    <Shell
      nav={nav.filter((n): n is NavItem => !!n)}
      orgs={me.orgs}
      current={org}
      user={{ name: me.name, email: me.email }}
      banners={
        // Streams in after the page shell: the warnings must not hold up every page.
        <Suspense fallback={null}>
          <OrgBanners org={org.slug} role={r} />
        </Suspense>
      }
    >
      {children}
    </Shell>
  );
}
