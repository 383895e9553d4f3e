/** @jsxImportSource hono/jsx */
/**
 * The page shell: head (viewport tag, hashed stylesheets and scripts under the CSP nonce), the
 * navigation a caller may use, and the sign-out form. Every page is rendered through `renderPage`.
 */
import type { Context } from 'hono';
import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { dashboardAssets } from './assets/index.ts';
import { CsrfField } from './components.tsx';
import type { DashboardEnv, DashboardSession } from './env.ts';

export type Section = 'overview' | 'keys' | 'usage' | 'nodes' | 'tenants' | 'audit';

const NAV: Array<{ id: Section; label: string; href: string; operatorOnly?: boolean }> = [
  { id: 'overview', label: 'Overview', href: '/dashboard' },
  { id: 'keys', label: 'Keys', href: '/dashboard/keys' },
  { id: 'usage', label: 'Usage', href: '/dashboard/usage' },
  { id: 'nodes', label: 'Nodes', href: '/dashboard/nodes', operatorOnly: true },
  { id: 'tenants', label: 'Tenants', href: '/dashboard/tenants', operatorOnly: true },
  { id: 'audit', label: 'Audit log', href: '/dashboard/audit' },
];

export interface PageMeta {
  title: string;
  section?: Section;
  /** Live pages re-read their `[data-live]` regions this often, without a reload. */
  refreshMs?: number;
  /** Shown beside the title (a filter, a link). */
  aside?: Child;
  status?: ContentfulStatusCode;
}

export async function renderPage(c: Context<DashboardEnv>, meta: PageMeta, body: Child): Promise<Response> {
  const assets = await dashboardAssets();
  const nonce = c.get('cspNonce');
  const session = c.get('session') as DashboardSession | undefined;
  const page = (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{`${meta.title} · Switchyard`}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={assets.uplotCss.url} integrity={assets.uplotCss.integrity} />
        <link rel="stylesheet" href={assets.appCss.url} integrity={assets.appCss.integrity} />
        <script defer src={assets.uplotJs.url} integrity={assets.uplotJs.integrity} nonce={nonce}></script>
        <script defer src={assets.appJs.url} integrity={assets.appJs.integrity} nonce={nonce}></script>
      </head>
      <body>
        {session ? <TopBar session={session} section={meta.section} /> : null}
        <main
          data-refresh-ms={meta.refreshMs ? String(meta.refreshMs) : undefined}
          data-refresh-url={meta.refreshMs ? refreshUrl(c, meta.section) : undefined}
        >
          {session ? (
            <div class="page-head">
              <h1>{meta.title}</h1>
              <div class="page-tools">
                {meta.aside ?? null}
                {meta.refreshMs ? (
                  <span id="live-status" class="live-status" aria-live="polite"></span>
                ) : null}
              </div>
            </div>
          ) : null}
          {body}
        </main>
      </body>
    </html>
  );
  return c.html(
    <>
      {raw('<!doctype html>')}
      {page}
    </>,
    meta.status ?? 200,
  );
}

/** A page answering a form shows the section it belongs to; its live regions refresh from there. */
function refreshUrl(c: Context<DashboardEnv>, section: Section | undefined): string {
  if (c.req.method === 'GET') return `${c.req.path}${new URL(c.req.url).search}`;
  return NAV.find((item) => item.id === section)?.href ?? '/dashboard';
}

function TopBar({ session, section }: { session: DashboardSession; section?: Section }) {
  const operator = session.caller.kind === 'operator';
  return (
    <header class="top">
      <div class="top-inner">
        <a class="brand" href="/dashboard">
          Switchyard
        </a>
        <nav class="tabs" aria-label="Dashboard">
          {NAV.filter((item) => operator || !item.operatorOnly).map((item) => (
            <a href={item.href} aria-current={item.id === section ? 'page' : undefined}>
              {item.label}
            </a>
          ))}
        </nav>
        <div class="who">
          <span>
            {operator ? 'Operator' : 'Tenant admin'}
            {operator ? null : <strong> · {session.who}</strong>}
          </span>
          <form method="post" action="/dashboard/sign-out">
            <CsrfField token={session.csrf} />
            <button type="submit">Sign out</button>
          </form>
        </div>
      </div>
    </header>
  );
}
