/**
 * Authenticates a node's own credential (`snc-<nodeId>.<secret>`) for the node API. The
 * registry holds the secret and compares it; this middleware only refuses every other kind
 * of credential (API keys above all) before the registry is asked.
 */
import type { MiddlewareHandler } from 'hono';
import { bearerToken, parseCredential } from '../../../src/credentials.ts';
import type { AppEnv } from '../config.ts';
import { ApiError } from '../../../src/openai/errors.ts';

export function nodeCredentialAuth(): MiddlewareHandler<AppEnv> {
  return async function requireNodeCredential(c, next) {
    const token = bearerToken(c.req.header('authorization'));
    const credential = token ? parseCredential(token) : null;
    if (credential?.kind !== 'nodeCredential') {
      throw new ApiError(401, 'The node API takes the node credential issued at registration.', {
        code: 'invalid_node_credential',
      });
    }
    c.set('node', { id: credential.id, credential: token! });
    await next();
  };
}
