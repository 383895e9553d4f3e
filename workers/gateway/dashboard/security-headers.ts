/**
 * Every dashboard answer: a strict Content-Security-Policy (scripts only from this Worker and only
 * with this response's nonce, no inline script or style, no framing, forms post here only), and
 * no caching of pages (they hold tenant data).
 */
import type { MiddlewareHandler } from 'hono';
import type { DashboardEnv } from './env.ts';

export function dashboardSecurityHeaders(): MiddlewareHandler<DashboardEnv> {
  return async function setSecurityHeaders(c, next) {
    const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    c.set('cspNonce', nonce);
    await next();
    const headers = c.res.headers;
    headers.set(
      'content-security-policy',
      [
        "default-src 'none'",
        `script-src 'nonce-${nonce}'`,
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ].join('; '),
    );
    headers.set('x-content-type-options', 'nosniff');
    headers.set('x-frame-options', 'DENY');
    headers.set('cross-origin-opener-policy', 'same-origin');
    if (!headers.has('referrer-policy')) headers.set('referrer-policy', 'same-origin');
    if (!headers.has('cache-control')) headers.set('cache-control', 'no-store');
  };
}
