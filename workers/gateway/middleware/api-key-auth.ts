/**
 * Authenticates an API key (`sk-<keyId>.<secret>`) with one RPC to the key's own Durable
 * Object, which compares the secret's hash. Node tokens and node credentials are refused.
 */
import type { MiddlewareHandler } from 'hono';
import { bearerToken, parseCredential, sha256Hex } from '../../../src/credentials.ts';
import type { AppEnv } from '../config.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { apiKey } from '../../objects/stubs.ts';

export function apiKeyAuth(): MiddlewareHandler<AppEnv> {
  return async function authenticateApiKey(c, next) {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) {
      throw new ApiError(401, 'Missing API key: send it as `Authorization: Bearer sk-…`.', {
        code: 'missing_api_key',
      });
    }
    const credential = parseCredential(token);
    if (credential?.kind !== 'apiKey') throw invalidKey();
    const admission = await apiKey(c.env, credential.id).admitRequest(await sha256Hex(credential.secret));
    if (!admission.ok) {
      throw admission.reason === 'revoked_key'
        ? new ApiError(401, 'This API key has been revoked.', { code: 'revoked_api_key' })
        : invalidKey();
    }
    c.set('apiKey', { keyId: admission.keyId, tenant: admission.tenant });
    await next();
  };
}

function invalidKey(): ApiError {
  return new ApiError(401, 'Incorrect API key provided.', { code: 'invalid_api_key' });
}
