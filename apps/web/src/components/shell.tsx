'use client';

import Link from 'next/link';
import { usePathname, useRouter } from 'next/navigation';
import { type ReactNode, useState } from 'react';
import type { MemberRole } from '@/lib/access';

export interface NavItem {
  href: string;
  label: string;
}

/** Sidebar with org switcher and role-aware navigation; collapses to a menu at phone width. */
export function Shell({
  children,
  nav,
  orgs,
  current,
  user,
  banners,
}: {
  children: ReactNode;
  nav: NavItem[];
  orgs: { slug: string; name: string; role: MemberRole }[];
  current: { slug: string; name: string; role: MemberRole };
  user: { name: string; email: string };
  /** Org-wide warnings shown above every page (quota, failing servers). */
  banners?: ReactNode;
}) {
  const pathname = usePathname();
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const active = (href: string) =>
    href === `/o/${current.slug}` ? pathname === href : pathname === href || pathname.startsWith(`${href}/`);
  return (
    <div className="shell">
      <aside className={`sidebar${open ? ' open' : ''}`}>
        <div className="top">
          <Link href="/orgs" className="brand">
            Toolgate
          </Link>
          <button
            type="button"
            className="btn small menu-toggle"
            aria-expanded={open}
            aria-controls="main-nav"
            onClick={() => setOpen(!open)}
          >
            Menu
          </button>
        </div>
        <label className="org-switch stack" style={{ gap: 4 }}>
          <span className="small">Organisation</span>
          <select
            aria-label="Switch organisation"
            value={current.slug}
            onChange={(e) => {
              if (e.target.value === '__new') router.push('/orgs?create=1');
              else router.push(`/o/${e.target.value}`);
            }}
          >
            {orgs.map((o) => (
              <option key={o.slug} value={o.slug}>
                {o.name}
              </option>
            ))}
            <option value="__new">+ New organisation…</option>
          </select>
          <span className="small">
            Your role: <strong>{current.role}</strong>
          </span>
        </label>
        <nav id="main-nav" aria-label="Organisation">
          {nav.map((n) => (
            <Link key={n.href} href={n.href} aria-current={active(n.href) ? 'page' : undefined} onClick={() => setOpen(false)}>
              {n.label}
            </Link>
          ))}
        </nav>
        <div className="me">
          <div>{user.name}</div>
          <div className="small">{user.email}</div>
          <button
            type="button"
            className="btn small"
            onClick={async () => {
              await fetch('/api/session/logout', { method: 'POST' }).catch(() => undefined);
              window.location.assign('/login');
            }}
          >
            Log out
          </button>
        </div>
      </aside>
      <main className="main" id="main">
        {banners}
        {children}
      </main>
    </div>
  );
}
