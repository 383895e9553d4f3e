/** @jsxImportSource hono/jsx */
/**
 * Signing in and out. The operator signs in with ADMIN_TOKEN, a tenant admin with its admin key;
 * either way the credential is checked as the admin API checks it and is not kept: the session
 * cookie is. `npm start` asks for a one-time link (POST /dashboard/sign-in-links, as the operator)
 * and prints it, so a newcomer is one click from the dashboard.
 */
import { Hono, type Context } from 'hono';
import { bearerToken, secretsMatch } from '../../../../src/credentials.ts';
import { directory } from '../../../objects/stubs.ts';
import {
  dashboardSecret,
  identifyCredential,
  isLocalhost,
  requireSameOrigin,
  startSession,
} from '../../middleware/dashboard-session.ts';
import { Notice } from '../components.tsx';
import type { DashboardEnv } from '../env.ts';
import { field, type Form } from '../forms.ts';
import { renderPage } from '../layout.tsx';
import { openSignInLinkCode, signInLinkCode } from '../session-cookie.ts';

export const signInRoutes = new Hono<DashboardEnv>();

/** Only a dashboard path of this origin; anything else goes to the overview. */
function safeNext(next: string | undefined): string {
  return next && /^\/dashboard(?:[/?#]|$)/.test(next) && !next.startsWith('//') ? next : '/dashboard';
}

signInRoutes.get('/dashboard/sign-in', function showSignIn(c) {
  const signedOut = c.req.query('signed-out') !== undefined;
  return renderSignIn(c, {
    next: c.req.query('next'),
    notice: signedOut ? 'You are signed out.' : undefined,
  });
});

signInRoutes.post('/dashboard/sign-in', async function signIn(c) {
  requireSameOrigin(c);
  const form = (await c.req.parseBody()) as Form;
  const caller = await identifyCredential(c.env, field(form, 'credential'));
  if (!caller) {
    return renderSignIn(c, {
      next: field(form, 'next'),
      error: 'That is neither the admin token nor an active tenant admin key.',
      status: 401,
    });
  }
  await startSession(c, caller);
  return c.redirect(safeNext(field(form, 'next')), 303);
});

/** The one-time link: signs the operator in, then leaves the code out of the address bar. */
signInRoutes.get('/dashboard/sign-in/link', async function redeemSignInLink(c) {
  c.header('referrer-policy', 'no-referrer');
  const link = await openSignInLinkCode(dashboardSecret(c.env), c.req.query('code') ?? '', Date.now());
  if (!link || !(await directory(c.env).redeemSignInLink(link.nonce, link.expiresAt))) {
    return renderSignIn(c, {
      error:
        'This sign-in link was already used or has expired (each link signs in once). Sign in with the admin token, or restart `npm start` for a new link.',
      status: 410,
    });
  }
  await startSession(c, { kind: 'operator' });
  // A page of our own, not a redirect: the SameSite=Strict cookie then goes with the next request
  // even when the link was opened from another site (a chat, a mail).
  return renderPage(
    c,
    { title: 'Signed in' },
    <div class="sign-in">
      <meta http-equiv="refresh" content="0; url=/dashboard" />
      <Notice tone="ok">
        Signed in as the operator. <a href="/dashboard">Continue to the dashboard →</a>
      </Notice>
    </div>,
  );
});

/** For `npm start`: the operator's one-time sign-in link, as JSON. */
signInRoutes.post('/dashboard/sign-in-links', async function createSignInLink(c) {
  const token = bearerToken(c.req.header('authorization'));
  if (!token || !(await secretsMatch(token, dashboardSecret(c.env)))) {
    return c.json(
      {
        error: {
          message: 'Send the admin token.',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_admin_token',
        },
      },
      401,
    );
  }
  const { code, expiresAt } = await signInLinkCode(dashboardSecret(c.env), Date.now());
  const url = `${new URL(c.req.url).origin}/dashboard/sign-in/link?code=${code}`;
  return c.json({ url, expiresAt }, 201);
});

function renderSignIn(
  c: Context<DashboardEnv>,
  state: { next?: string; error?: string; notice?: string; status?: 401 | 410 },
): Promise<Response> {
  const url = new URL(c.req.url);
  const plainHttpElsewhere = url.protocol === 'http:' && !isLocalhost(c.req.url);
  return renderPage(
    c,
    { title: 'Sign in', status: state.status },
    <div class="sign-in">
      <div class="brand-big">Switchyard</div>
      <h1>Sign in to the dashboard</h1>
      {plainHttpElsewhere ? (
        <Notice tone="warn">
          This page came over plain HTTP from another machine: browsers drop the session cookie (it is Secure
          there). Use HTTPS, or open the dashboard on localhost.
        </Notice>
      ) : null}
      {state.notice ? <Notice tone="ok">{state.notice}</Notice> : null}
      {state.error ? <Notice tone="bad">{state.error}</Notice> : null}
      <form method="post" action="/dashboard/sign-in" class="panel stack">
        <input type="hidden" name="next" value={safeNext(state.next)} />
        <label>
          Admin token or tenant admin key
          <input
            name="credential"
            type="password"
            required
            autocomplete="current-password"
            autofocus
            placeholder="ADMIN_TOKEN or sk-…"
          />
        </label>
        <p class="small muted">
          The operator uses the gateway’s <code>ADMIN_TOKEN</code>; a tenant admin uses a key created with
          kind “tenant admin”. The credential is checked and not kept: a signed, 12-hour session cookie is.
        </p>
        <div class="buttons">
          <button type="submit">Sign in</button>
        </div>
      </form>
    </div>,
  );
}
