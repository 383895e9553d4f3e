/**
 * Authenticates an API key (`sk-<keyId>.<secret>`) for routes that forward nothing
 * (`GET /v1/models`): one RPC to the key's object. Forwarded calls are admitted instead
 * (`dispatch/admit.ts`), which also checks the model and the key's limits in that one call.
 */
import type { MiddlewareHandler } from 'hono';
import { sha256Hex } from '../../../src/credentials.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { apiKey } from '../../objects/stubs.ts';
import type { AppEnv, AuthenticatedKey } from '../config.ts';
import { presentedApiKey } from '../dispatch/admit.ts';

export function apiKeyAuth(): MiddlewareHandler<AppEnv> {
  return async function authenticateApiKey(c, next) {
    const who = await authenticatedApiKey(c.env, await presentedApiKey(c.env, c.req.header('authorization')));
    c.set('apiKey', { keyId: who.keyId, tenantId: who.tenantId });
    c.set('allowedModels', who.models);
    await next();
  };
}

/** The key's tenant and allow-list, or the 401 that says why not (for calls that admit nothing). */
export async function authenticatedApiKey(
  env: Env,
  key: { id: string; secret: string },
): Promise<AuthenticatedKey & { models: string[] | null }> {
  const who = await apiKey(env, key.id).authenticate(await sha256Hex(key.secret));
  if (!who.ok || who.kind !== 'api') {
    const message =
      !who.ok && who.reason === 'revoked_key'
        ? 'This API key has been revoked.'
        : !who.ok && who.reason === 'expired_key'
          ? 'This API key has expired.'
          : 'Incorrect API key provided.';
    throw new ApiError(401, message, { code: 'invalid_api_key' });
  }
  return { keyId: who.keyId, tenantId: who.tenantId, models: who.models };
}
