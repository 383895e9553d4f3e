/**
 * The door to `POST /nodes/register`: a node token (`snt-<tokenId>.<secret>`) made by the
 * operator, checked against its hash in the Directory. Every other kind of credential is
 * refused before the Directory is asked.
 */
import type { MiddlewareHandler } from 'hono';
import { bearerToken, parseCredential, sha256Hex } from '../../../src/credentials.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { directory } from '../../objects/stubs.ts';
import type { AppEnv } from '../config.ts';

export function nodeTokenAuth(): MiddlewareHandler<AppEnv> {
  return async function requireNodeToken(c, next) {
    const credential = parseCredential(bearerToken(c.req.header('authorization')) ?? '');
    const scope =
      credential?.kind === 'nodeToken'
        ? await directory(c.env).verifyNodeToken(credential.id, await sha256Hex(credential.secret))
        : null;
    if (!credential || !scope) {
      throw new ApiError(401, 'Registration takes a node token (`snt-…`) created by the operator.', {
        code: 'invalid_node_token',
      });
    }
    c.set('nodeToken', { id: credential.id, scope });
    await next();
  };
}
