/**
 * Takes the client's `x-request-id` when it is safe to echo and log, else makes one, and
 * sets it on every response (errors included: `onError` has made the response by the time
 * `next()` returns). Hono's own request-id middleware is not used because it refuses the `.`
 * and `:` that common trace ids carry.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../config.ts';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestId(): MiddlewareHandler<AppEnv> {
  return async function assignRequestId(c, next) {
    const offered = c.req.header('x-request-id');
    const id = offered && SAFE_ID.test(offered) ? offered : `req_${crypto.randomUUID().replaceAll('-', '')}`;
    c.set('requestId', id);
    await next();
    c.res.headers.set('x-request-id', id);
  };
}
