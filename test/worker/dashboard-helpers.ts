/** A browser's part in the dashboard tests: sign in, keep the cookie, send forms with their CSRF token. */
import { exports } from 'cloudflare:workers';

export const ORIGIN = 'https://gateway.test';

export function page(path: string, init: RequestInit = {}, origin = ORIGIN): Promise<Response> {
  return exports.default.fetch(new Request(`${origin}${path}`, { redirect: 'manual', ...init }));
}

/** `name=value` of a set-cookie header, and its attributes, lower-cased. */
export function parseSetCookie(header: string | null): { pair: string; attributes: string[] } {
  if (!header) throw new Error('no set-cookie header');
  const [pair, ...attributes] = header.split(';').map((part) => part.trim());
  return { pair: pair!, attributes: attributes.map((a) => a.toLowerCase()) };
}

export async function signIn(credential: string, origin = ORIGIN): Promise<Response> {
  return page(
    '/dashboard/sign-in',
    {
      method: 'POST',
      headers: {
        origin,
        'sec-fetch-site': 'same-origin',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ credential, next: '/dashboard' }),
    },
    origin,
  );
}

export interface Browser {
  cookie: string;
  get(path: string): Promise<Response>;
  /** Posts a form, adding the CSRF token of the page it was on unless `csrf` is given. */
  post(path: string, fields: Record<string, string>, csrf?: string): Promise<Response>;
  csrf(): Promise<string>;
}

export async function signedIn(credential: string): Promise<Browser> {
  const res = await signIn(credential);
  if (res.status !== 303) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  const cookie = parseSetCookie(res.headers.get('set-cookie')).pair;
  const browser: Browser = {
    cookie,
    get: (path) => page(path, { headers: { cookie } }),
    csrf: async () => csrfOf(await (await browser.get('/dashboard/audit')).text()),
    post: async (path, fields, csrf) =>
      page(path, {
        method: 'POST',
        headers: {
          cookie,
          origin: ORIGIN,
          'sec-fetch-site': 'same-origin',
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ _csrf: csrf ?? (await browser.csrf()), ...fields }),
      }),
  };
  return browser;
}

export function csrfOf(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('no CSRF field on the page');
  return match[1]!;
}
