/**
 * The dashboard's door. A session is a sealed cookie (dashboard/session-cookie.ts) made at sign-in
 * from the same credentials the admin API takes, and it opens exactly what that credential opens:
 *   the operator      a cookie sealed under the current ADMIN_TOKEN (changing it ends the session);
 *   a tenant admin    its key's object is asked on every page, as the admin API asks it on every
 *                     call, so revoking, expiring or rotating the key ends the session at once.
 * Forms carry a CSRF token bound to the session; every state change also has to come from this
 * origin (the cookie is SameSite=Strict as well).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { parseCredential, secretsMatch, sha256Hex } from '../../../src/credentials.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { apiKey, directory } from '../../objects/stubs.ts';
import type { DashboardEnv } from '../dashboard/env.ts';
import {
  csrfToken,
  csrfTokenValid,
  newSessionId,
  openSession,
  sealSession,
  SESSION_TTL_MS,
  type SessionCaller,
} from '../dashboard/session-cookie.ts';
import { keyIdIssuedHere } from '../gateway-secret.ts';

type DashboardContext = Context<DashboardEnv>;

/** The secret every dashboard credential derives from; without it the dashboard is closed. */
export function dashboardSecret(env: Env): string {
  if (!env.ADMIN_TOKEN) {
    throw new ApiError(503, 'The dashboard is disabled: set the ADMIN_TOKEN secret.', {
      code: 'admin_disabled',
    });
  }
  return env.ADMIN_TOKEN;
}

/** Plain HTTP is fine on this machine only; anywhere else the cookie is Secure. */
export function isLocalhost(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host.endsWith('.localhost') || host === '127.0.0.1' || host === '[::1]';
}

function cookieName(c: DashboardContext): string {
  // `__Host-` pins the cookie to this origin and path `/`; browsers take it only when Secure.
  return isLocalhost(c.req.url) ? 'switchyard_session' : '__Host-switchyard_session';
}

/** What a credential typed at sign-in opens, checked as the admin API checks it; null if nothing. */
export async function identifyCredential(env: Env, credential: string): Promise<SessionCaller | null> {
  const parsed = parseCredential(credential);
  if (parsed?.kind === 'apiKey') {
    if (!(await keyIdIssuedHere(env, parsed.id))) return null;
    const secretHash = await sha256Hex(parsed.secret);
    const who = await apiKey(env, parsed.id).authenticate(secretHash);
    if (!who.ok || who.kind !== 'admin') return null;
    const tenant = await directory(env).getTenant(who.tenantId);
    if (!tenant) return null;
    return { kind: 'tenant', tenantId: who.tenantId, keyId: who.keyId, secretHash, tenantName: tenant.name };
  }
  return (await secretsMatch(credential, dashboardSecret(env))) ? { kind: 'operator' } : null;
}

/** The session's tenant admin key still opens the admin API for its tenant. */
async function stillValid(env: Env, caller: SessionCaller): Promise<boolean> {
  if (caller.kind === 'operator') return true;
  if (!(await keyIdIssuedHere(env, caller.keyId))) return false;
  const who = await apiKey(env, caller.keyId).authenticate(caller.secretHash);
  return who.ok && who.kind === 'admin' && who.tenantId === caller.tenantId;
}

export async function startSession(c: DashboardContext, caller: SessionCaller): Promise<void> {
  const exp = Date.now() + SESSION_TTL_MS;
  const cookie = await sealSession(dashboardSecret(c.env), { sid: newSessionId(), exp, caller });
  setCookie(c, cookieName(c), cookie, {
    path: '/',
    httpOnly: true,
    sameSite: 'Strict',
    secure: !isLocalhost(c.req.url),
    maxAge: Math.floor(SESSION_TTL_MS / 1000),
  });
}

export function endSession(c: DashboardContext): void {
  deleteCookie(c, cookieName(c), { path: '/', secure: !isLocalhost(c.req.url) });
}

/** Loads the session; without a valid one, pages send the browser to the sign-in page. */
export function dashboardSession(): MiddlewareHandler<DashboardEnv> {
  return async function requireDashboardSession(c, next) {
    const secret = dashboardSecret(c.env);
    const cookie = getCookie(c, cookieName(c));
    const claims = cookie ? await openSession(secret, cookie, Date.now()) : null;
    if (!claims || !(await stillValid(c.env, claims.caller))) {
      if (cookie) endSession(c);
      if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
        throw new ApiError(401, 'Your dashboard session has ended: sign in again.', {
          code: 'session_ended',
        });
      }
      const next = `${c.req.path}${new URL(c.req.url).search}`;
      return c.redirect(`/dashboard/sign-in?next=${encodeURIComponent(next)}`, 303);
    }
    const { caller } = claims;
    c.set('session', {
      caller:
        caller.kind === 'operator'
          ? { kind: 'operator' }
          : { kind: 'tenant', tenantId: caller.tenantId, keyId: caller.keyId },
      sid: claims.sid,
      csrf: await csrfToken(secret, claims.sid),
      expiresAt: claims.exp,
      who: caller.kind === 'operator' ? 'Operator' : caller.tenantName,
    });
    await next();
  };
}

/**
 * Refuses a state change that did not come from a dashboard page: another origin (by
 * Sec-Fetch-Site or Origin), or a form without this session's CSRF token.
 */
export function csrfProtection(): MiddlewareHandler<DashboardEnv> {
  return async function requireCsrfToken(c, next) {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    requireSameOrigin(c);
    const session = c.get('session');
    const form = await c.req.parseBody();
    const token = c.req.header('x-csrf-token') ?? (typeof form._csrf === 'string' ? form._csrf : '');
    if (!session || !(await csrfTokenValid(dashboardSecret(c.env), session.sid, token))) {
      throw new ApiError(403, 'This form has expired or did not come from the dashboard: reload the page.', {
        code: 'csrf_failed',
      });
    }
    await next();
  };
}

/** A state-changing request from another site is refused before anything else is read. */
export function requireSameOrigin(c: DashboardContext): void {
  const site = c.req.header('sec-fetch-site');
  const origin = c.req.header('origin');
  const sameSite = site === undefined || site === 'same-origin';
  const sameOrigin = origin === undefined || origin === new URL(c.req.url).origin;
  if (!sameSite || !sameOrigin) {
    throw new ApiError(403, 'Cross-site requests to the dashboard are refused.', { code: 'csrf_failed' });
  }
}
