/**
 * Authenticates an API key (`sk-<keyId>.<secret>`) for routes that forward nothing
 * (`GET /v1/models`): one RPC to the key's object. Forwarded calls are admitted instead
 * (`dispatch/admit.ts`), which also checks the model and the key's limits in that one call.
 */
import type { MiddlewareHandler } from 'hono';
import { sha256Hex } from '../../../src/credentials.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { apiKey } from '../../objects/stubs.ts';
import type { AppEnv } from '../config.ts';
import { invalidKey, presentedApiKey } from '../dispatch/admit.ts';
import { keyIdIssuedHere } from '../key-ids.ts';

export function apiKeyAuth(): MiddlewareHandler<AppEnv> {
  return async function authenticateApiKey(c, next) {
    const key = presentedApiKey(c.req.header('authorization'));
    if (!(await keyIdIssuedHere(c.env, key.id))) throw invalidKey();
    const who = await apiKey(c.env, key.id).authenticate(await sha256Hex(key.secret));
    if (!who.ok || who.kind !== 'api') {
      const message =
        !who.ok && who.reason === 'revoked_key'
          ? 'This API key has been revoked.'
          : !who.ok && who.reason === 'expired_key'
            ? 'This API key has expired.'
            : 'Incorrect API key provided.';
      throw new ApiError(401, message, { code: 'invalid_api_key' });
    }
    c.set('apiKey', { keyId: who.keyId, tenantId: who.tenantId });
    c.set('allowedModels', who.models);
    await next();
  };
}
