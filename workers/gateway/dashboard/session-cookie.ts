/**
 * The dashboard's credentials, all derived from ADMIN_TOKEN (HKDF, one key per purpose), so
 * changing that secret ends every session and voids every unused sign-in link at once:
 *   session cookie   AES-256-GCM over `{sid, exp, caller}`: signed (the tag) and sealed, since a
 *                    tenant admin's session carries the SHA-256 of its key's secret, which the
 *                    gateway presents to the key's object on every page (see dashboard-session.ts);
 *   CSRF token       HMAC of the session id, in every form;
 *   sign-in link     `<exp>.<nonce>.<HMAC>`, made for the operator by `npm start`, redeemed once.
 */
import * as z from '../../../src/zod-mini.ts';

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
export const SIGN_IN_LINK_TTL_MS = 24 * 60 * 60 * 1000;

const SessionCallerSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('operator') }),
  z.strictObject({
    kind: z.literal('tenant'),
    tenantId: z.string(),
    keyId: z.string(),
    secretHash: z.string(),
    tenantName: z.string(),
  }),
]);
export type SessionCaller = z.infer<typeof SessionCallerSchema>;

const SessionClaimsSchema = z.strictObject({
  sid: z.string().check(z.minLength(16)),
  exp: z.int(),
  caller: SessionCallerSchema,
});
export type SessionClaims = z.infer<typeof SessionClaimsSchema>;

type Purpose = 'session' | 'csrf' | 'sign-in-link';
const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function derivedKey(secret: string, purpose: Purpose): Promise<CryptoKey> {
  const id = `${purpose}\u0000${secret}`;
  let key = keys.get(id);
  if (!key) {
    // ADMIN_TOKEN rarely changes; a handful of entries covers a rotation in progress.
    if (keys.size > 8) keys.clear();
    key = deriveKey(secret, purpose);
    keys.set(id, key);
  }
  return key;
}

async function deriveKey(secret: string, purpose: Purpose): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveKey']);
  const params = {
    name: 'HKDF',
    hash: 'SHA-256',
    salt: encoder.encode('switchyard dashboard v1'),
    info: encoder.encode(purpose),
  };
  return purpose === 'session'
    ? crypto.subtle.deriveKey(params, base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    : crypto.subtle.deriveKey(params, base, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, [
        'sign',
        'verify',
      ]);
}

export function newSessionId(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(18)));
}

export async function sealSession(secret: string, claims: SessionClaims): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode('session') },
    await derivedKey(secret, 'session'),
    encoder.encode(JSON.stringify(claims)),
  );
  return `v1.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
}

/** The claims of a cookie this gateway sealed and that has not expired; else null. */
export async function openSession(
  secret: string,
  cookie: string,
  now: number,
): Promise<SessionClaims | null> {
  const [version, iv, sealed, extra] = cookie.split('.');
  if (version !== 'v1' || !iv || !sealed || extra !== undefined) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: fromBase64Url(iv), additionalData: encoder.encode('session') },
      await derivedKey(secret, 'session'),
      fromBase64Url(sealed),
    );
    const claims = SessionClaimsSchema.safeParse(JSON.parse(new TextDecoder().decode(plain)));
    return claims.success && claims.data.exp > now ? claims.data : null;
  } catch {
    return null; // tampered, sealed under another ADMIN_TOKEN, or not base64
  }
}

export async function csrfToken(secret: string, sid: string): Promise<string> {
  return toBase64Url(await hmac(secret, 'csrf', `csrf:${sid}`));
}

export async function csrfTokenValid(secret: string, sid: string, token: string): Promise<boolean> {
  return verifyHmac(secret, 'csrf', `csrf:${sid}`, token);
}

export async function signInLinkCode(
  secret: string,
  now: number,
): Promise<{ code: string; expiresAt: number }> {
  const expiresAt = now + SIGN_IN_LINK_TTL_MS;
  const body = `${expiresAt}.${newSessionId()}`;
  return { code: `${body}.${toBase64Url(await hmac(secret, 'sign-in-link', body))}`, expiresAt };
}

/** The nonce and expiry of a link this gateway made and that has not expired; else null. */
export async function openSignInLinkCode(
  secret: string,
  code: string,
  now: number,
): Promise<{ nonce: string; expiresAt: number } | null> {
  const match = /^(\d{1,16})\.([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{16,128})$/.exec(code);
  if (!match) return null;
  const [, exp, nonce, mac] = match as unknown as [string, string, string, string];
  if (!(await verifyHmac(secret, 'sign-in-link', `${exp}.${nonce}`, mac))) return null;
  const expiresAt = Number(exp);
  return expiresAt > now ? { nonce, expiresAt } : null;
}

async function hmac(secret: string, purpose: Purpose, message: string): Promise<Uint8Array> {
  const mac = await crypto.subtle.sign('HMAC', await derivedKey(secret, purpose), encoder.encode(message));
  return new Uint8Array(mac);
}

async function verifyHmac(secret: string, purpose: Purpose, message: string, mac: string): Promise<boolean> {
  try {
    // subtle.verify compares in constant time.
    return await crypto.subtle.verify(
      'HMAC',
      await derivedKey(secret, purpose),
      fromBase64Url(mac),
      encoder.encode(message),
    );
  } catch {
    return false;
  }
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
