/**
 * CORS for browser clients of the public API (the OpenAI and Anthropic SDKs in a web page):
 * preflights are answered, and answers carry the headers a page may read (the request id, the
 * rate-limit state). Origins come from CORS_ORIGINS: `*` (any origin, never with credentials —
 * the key travels in a header, not a cookie) or a list. Never on `/admin`, `/nodes` or
 * `/dashboard`: those are not for pages on other origins. `/v1/realtime` is a WebSocket, which
 * CORS does not govern.
 */
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { gatewayConfig, type AppEnv } from '../config.ts';
import { OPENAI_ROUTES } from '../routes/openai-routes.ts';

/** The engine routes outside /v1 and /v2 (vLLM's `/tokenize`, `/rerank`, …). */
const ROOT_ROUTES = new Set(
  OPENAI_ROUTES.map((route) => route.path).filter((path) => !/^\/v\d\//.test(path)),
);

const EXPOSED_HEADERS = [
  'x-request-id',
  'x-ratelimit-limit-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-requests',
  'x-ratelimit-reset-tokens',
  'retry-after',
  'retry-after-ms',
  'x-switchyard-engine',
  'x-switchyard-error-source',
];

export function isPublicApiPath(path: string): boolean {
  if (path === '/v1/realtime') return false;
  return path.startsWith('/v1/') || path.startsWith('/v2/') || ROOT_ROUTES.has(path);
}

let built: { origins: '*' | string[]; handler: MiddlewareHandler } | undefined;

export function publicCors(): MiddlewareHandler<AppEnv> {
  return async function allowBrowserOrigins(c, next) {
    if (!isPublicApiPath(c.req.path)) return next();
    // A preflight always names its origin and method (Fetch standard); any other OPTIONS is a
    // plain request, answered by the routes (405).
    if (
      c.req.method === 'OPTIONS' &&
      !(c.req.header('origin') && c.req.header('access-control-request-method'))
    ) {
      return next();
    }
    const { corsOrigins } = gatewayConfig(c.env);
    if (built?.origins !== corsOrigins) {
      built = {
        origins: corsOrigins,
        handler: cors({
          origin: corsOrigins,
          allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
          // Empty: the headers a preflight asks for are allowed (the SDKs send their own x-stainless-*).
          allowHeaders: [],
          exposeHeaders: EXPOSED_HEADERS,
          maxAge: 7200,
          credentials: false,
        }),
      };
    }
    return built.handler(c, next);
  };
}
