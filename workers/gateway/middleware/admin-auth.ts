/** The operator's door: `Authorization: Bearer <ADMIN_TOKEN>` (a Worker secret). */
import type { MiddlewareHandler } from 'hono';
import { bearerToken, secretsMatch } from '../../../src/credentials.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import type { AppEnv } from '../config.ts';

export function adminAuth(): MiddlewareHandler<AppEnv> {
  return async function requireAdminToken(c, next) {
    const expected = c.env.ADMIN_TOKEN;
    if (!expected) {
      throw new ApiError(503, 'The admin API is disabled: set the ADMIN_TOKEN secret.', {
        code: 'admin_disabled',
      });
    }
    const token = bearerToken(c.req.header('authorization'));
    if (!token || !(await secretsMatch(token, expected))) {
      throw new ApiError(401, 'The admin API takes `Authorization: Bearer <ADMIN_TOKEN>`.', {
        code: 'invalid_admin_token',
      });
    }
    await next();
  };
}
