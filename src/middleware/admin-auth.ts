/** The operator's door: `Authorization: Bearer <ADMIN_TOKEN>` (a Worker secret). */
import type { MiddlewareHandler } from 'hono';
import { bearerToken, timingSafeEqual } from '../credentials.ts';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors.ts';

export function adminAuth(): MiddlewareHandler<AppEnv> {
  return async function requireAdminToken(c, next) {
    const expected = c.env.ADMIN_TOKEN;
    if (!expected) {
      throw new ApiError(503, 'The admin API is disabled: set the ADMIN_TOKEN secret.', {
        code: 'admin_disabled',
      });
    }
    const token = bearerToken(c.req.header('authorization'));
    if (!token || !timingSafeEqual(token, expected)) {
      throw new ApiError(401, 'The admin API takes `Authorization: Bearer <ADMIN_TOKEN>`.', {
        code: 'invalid_admin_token',
      });
    }
    await next();
  };
}
