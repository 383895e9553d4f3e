/**
 * The admin API's door. Two kinds of caller:
 *   the operator     `Authorization: Bearer <ADMIN_TOKEN>` (a Worker secret): everything;
 *   a tenant admin   `Authorization: Bearer sk-…` of a key made with `kind: "admin"`: its own
 *                    tenant's keys, usage and audit, and nothing of any other tenant.
 */
import type { MiddlewareHandler } from 'hono';
import { bearerToken, parseCredential, secretsMatch, sha256Hex } from '../../../src/credentials.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { apiKey } from '../../objects/stubs.ts';
import type { AppEnv } from '../config.ts';
import { keyIdIssuedHere } from '../gateway-secret.ts';

export type AdminCaller = { kind: 'operator' } | { kind: 'tenant'; tenantId: string; keyId: string };

export function adminAuth(): MiddlewareHandler<AppEnv> {
  return async function requireAdmin(c, next) {
    const token = bearerToken(c.req.header('authorization'));
    const caller = token ? await identify(c.env, token) : null;
    if (!caller) {
      throw new ApiError(
        401,
        'The admin API takes `Authorization: Bearer <ADMIN_TOKEN>` or a tenant admin key.',
        { code: 'invalid_admin_token' },
      );
    }
    c.set('admin', caller);
    await next();
  };
}

async function identify(env: Env, token: string): Promise<AdminCaller | null> {
  const credential = parseCredential(token);
  if (credential?.kind === 'apiKey') {
    if (!(await keyIdIssuedHere(env, credential.id))) return null;
    const who = await apiKey(env, credential.id).authenticate(await sha256Hex(credential.secret));
    return who.ok && who.kind === 'admin'
      ? { kind: 'tenant', tenantId: who.tenantId, keyId: who.keyId }
      : null;
  }
  if (!env.ADMIN_TOKEN) {
    throw new ApiError(503, 'The operator admin API is disabled: set the ADMIN_TOKEN secret.', {
      code: 'admin_disabled',
    });
  }
  return (await secretsMatch(token, env.ADMIN_TOKEN)) ? { kind: 'operator' } : null;
}

/** Refuses a tenant admin on a route only the operator may use. */
export function operatorOnly(): MiddlewareHandler<AppEnv> {
  return async function requireOperator(c, next) {
    if (c.get('admin').kind !== 'operator') {
      throw new ApiError(403, 'Only the operator (ADMIN_TOKEN) may do this.', { code: 'operator_only' });
    }
    await next();
  };
}
