import { beforeAll, describe, expect, it } from 'vitest';
import {
  csrfToken,
  openSession,
  openSignInLinkCode,
  sealSession,
  signInLinkCode,
} from '../../workers/gateway/dashboard/session-cookie.ts';
import { ADMIN, adminJson, createKeyRecord, createTenant } from './helpers.ts';
import { ORIGIN, page, parseSetCookie, signedIn, signIn } from './dashboard-helpers.ts';

// The Worker's modules load on the first request (seconds on a busy machine): not in a test's time.
beforeAll(async () => {
  await page('/healthz');
}, 30_000);

const SECRET = 'test-admin-token';

describe('dashboard sign-in', () => {
  it('signs the operator in with ADMIN_TOKEN: an HttpOnly, SameSite=Strict, Secure, expiring __Host- cookie', async () => {
    const res = await signIn('test-admin-token');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard');
    const { pair, attributes } = parseSetCookie(res.headers.get('set-cookie'));
    expect(pair).toMatch(/^__Host-switchyard_session=v1\./);
    expect(attributes).toEqual(
      expect.arrayContaining(['httponly', 'samesite=strict', 'secure', 'path=/', 'max-age=43200']),
    );
    expect(pair).not.toContain('test-admin-token');
  });

  it('leaves the cookie without Secure on localhost, where the dashboard runs over plain HTTP', async () => {
    const res = await signIn('test-admin-token', 'http://127.0.0.1:8080');
    const { pair, attributes } = parseSetCookie(res.headers.get('set-cookie'));
    expect(pair).toMatch(/^switchyard_session=/);
    expect(attributes).not.toContain('secure');
    expect(attributes).toEqual(expect.arrayContaining(['httponly', 'samesite=strict']));
  });

  it('refuses a wrong token and an API key (only tenant admin keys open the dashboard)', async () => {
    const apiKey = await createKeyRecord();
    for (const credential of [
      'wrong-token',
      apiKey.key,
      'sk-0123456789abcdef0123456789abcdef.nope-nope-nope-nope',
    ]) {
      const res = await signIn(credential);
      expect(res.status, credential).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(await res.text()).toContain('neither the admin token nor an active tenant admin key');
    }
  });

  it('refuses a sign-in form posted from another site', async () => {
    const res = await page('/dashboard/sign-in', {
      method: 'POST',
      headers: {
        origin: 'https://evil.test',
        'sec-fetch-site': 'cross-site',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ credential: 'test-admin-token' }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('sends a visitor without a session to the sign-in page, remembering where they were going', async () => {
    const res = await page('/dashboard/keys?tenant=tn_x');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(
      `/dashboard/sign-in?next=${encodeURIComponent('/dashboard/keys?tenant=tn_x')}`,
    );
  });

  it('refuses a tampered cookie, and one sealed under another ADMIN_TOKEN', async () => {
    const browser = await signedIn('test-admin-token');
    const [name, value] = browser.cookie.split('=') as [string, string];
    const tampered = `${name}=${value.slice(0, -2)}${value.endsWith('A') ? 'B' : 'A'}${value.slice(-1)}`;
    expect((await page('/dashboard', { headers: { cookie: tampered } })).status).toBe(303);
    const foreign = await sealSession('another-admin-token', {
      sid: 'sid-0123456789abcdef',
      exp: Date.now() + 60_000,
      caller: { kind: 'operator' },
    });
    expect((await page('/dashboard', { headers: { cookie: `${name}=${foreign}` } })).status).toBe(303);
    expect((await browser.get('/dashboard')).status).toBe(200);
  });

  it('seals sessions so that they open only under the same secret and only before they expire', async () => {
    const claims = { sid: 'sid-0123456789abcdef', exp: 2_000, caller: { kind: 'operator' as const } };
    const sealed = await sealSession(SECRET, claims);
    expect(await openSession(SECRET, sealed, 1_999)).toEqual(claims);
    expect(await openSession(SECRET, sealed, 2_000)).toBeNull();
    expect(await openSession('other', sealed, 1_000)).toBeNull();
    expect(await openSession(SECRET, 'v1.not.base64!', 1_000)).toBeNull();
    expect(await openSession(SECRET, `${sealed}.extra`, 1_000)).toBeNull();
  });

  it('signs a tenant admin in with its admin key, and ends the session when the key is revoked', async () => {
    const tenantId = await createTenant('dash-tenant');
    const admin = await createKeyRecord({ tenantId, kind: 'admin' });
    const browser = await signedIn(admin.key);
    const overview = await browser.get('/dashboard');
    expect(overview.status).toBe(200);
    expect(await overview.text()).toContain('dash-tenant');
    expect((await adminJson('DELETE', `/admin/api/keys/${admin.id}`)).status).toBe(200);
    const after = await browser.get('/dashboard');
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toMatch(/^\/dashboard\/sign-in/);
  });

  it('ends a tenant admin session when its key is rotated without grace', async () => {
    const tenantId = await createTenant('rotating');
    const admin = await createKeyRecord({ tenantId, kind: 'admin' });
    const browser = await signedIn(admin.key);
    expect((await browser.get('/dashboard/keys')).status).toBe(200);
    expect((await adminJson('POST', `/admin/api/keys/${admin.id}/rotate`, {})).status).toBe(200);
    expect((await browser.get('/dashboard/keys')).status).toBe(303);
  });

  it('signs out: the cookie is cleared', async () => {
    const browser = await signedIn('test-admin-token');
    const res = await browser.post('/dashboard/sign-out', {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard/sign-in?signed-out');
    const { attributes } = parseSetCookie(res.headers.get('set-cookie'));
    expect(attributes).toContain('max-age=0');
  });
});

describe('the one-time sign-in link', () => {
  it('is made only for the operator, signs in once, then is refused', async () => {
    expect((await page('/dashboard/sign-in-links', { method: 'POST' })).status).toBe(401);
    const made = await page('/dashboard/sign-in-links', { method: 'POST', headers: ADMIN });
    expect(made.status).toBe(201);
    const { url } = (await made.json()) as { url: string };
    expect(url).toMatch(new RegExp(`^${ORIGIN}/dashboard/sign-in/link\\?code=`));
    const path = url.slice(ORIGIN.length);
    const first = await page(path);
    expect(first.status).toBe(200);
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');
    const cookie = parseSetCookie(first.headers.get('set-cookie')).pair;
    expect((await page('/dashboard/nodes', { headers: { cookie } })).status).toBe(200);
    const second = await page(path);
    expect(second.status).toBe(410);
    expect(second.headers.get('set-cookie')).toBeNull();
  });

  it('refuses a forged, altered or expired code', async () => {
    const { code, expiresAt } = await signInLinkCode(SECRET, 1_000);
    expect(await openSignInLinkCode(SECRET, code, 1_000)).toMatchObject({ expiresAt });
    expect(await openSignInLinkCode(SECRET, code, expiresAt)).toBeNull();
    expect(await openSignInLinkCode('other', code, 1_000)).toBeNull();
    const [exp, nonce, mac] = code.split('.');
    expect(await openSignInLinkCode(SECRET, `${Number(exp) + 1}.${nonce}.${mac}`, 1_000)).toBeNull();
    const forged = await page(
      `/dashboard/sign-in/link?code=${encodeURIComponent(`${Date.now() + 60_000}.${nonce}.${mac}`)}`,
    );
    expect(forged.status).toBe(410);
  });
});

describe('CSRF protection', () => {
  it('refuses a form without the token, with a wrong one, or with another session’s', async () => {
    const browser = await signedIn('test-admin-token');
    const other = await signedIn('test-admin-token');
    const tenant = { name: 'csrf-tenant' };
    expect((await browser.post('/dashboard/tenants', tenant, '')).status).toBe(403);
    expect((await browser.post('/dashboard/tenants', tenant, 'bm90LWEtdG9rZW4')).status).toBe(403);
    expect((await browser.post('/dashboard/tenants', tenant, await other.csrf())).status).toBe(403);
    const tokenForAnotherSid = await csrfToken(SECRET, 'another-session-id');
    expect((await browser.post('/dashboard/tenants', tenant, tokenForAnotherSid)).status).toBe(403);
    const res = await browser.post('/dashboard/tenants', tenant);
    expect(res.status).toBe(303);
  });

  it('refuses a form with the right token sent from another origin', async () => {
    const browser = await signedIn('test-admin-token');
    const res = await page('/dashboard/tenants', {
      method: 'POST',
      headers: {
        cookie: browser.cookie,
        origin: 'https://evil.test',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ _csrf: await browser.csrf(), name: 'x' }),
    });
    expect(res.status).toBe(403);
  });
});
