/**
 * CORS on the public API: preflights answered, answers (errors too) readable by a page on
 * another origin, configured origins honoured — and nothing of it on /admin, /nodes or the
 * dashboard.
 */
import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../../workers/gateway/config.ts';
import { publicCors } from '../../workers/gateway/middleware/cors.ts';
import { call, createApiKey } from './helpers.ts';

const ORIGIN = 'https://chat.example';

function preflight(path: string, headers: Record<string, string> = {}) {
  return call(path, {
    method: 'OPTIONS',
    headers: {
      origin: ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers':
        'authorization, content-type, x-stainless-os, anthropic-version, x-api-key',
      ...headers,
    },
  });
}

describe('CORS on the public routes', () => {
  it.each([
    '/v1/chat/completions',
    '/v1/responses',
    '/v1/responses/resp_1',
    '/v1/messages',
    '/v1/models',
    '/v2/embed',
    '/rerank',
  ])('answers a preflight for %s', async (path) => {
    const res = await preflight(path);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toContain('x-stainless-os');
    expect(res.headers.get('access-control-allow-headers')).toContain('x-api-key');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('answers an OPTIONS that is not a preflight (no origin) as the route would: 405', async () => {
    const res = await call('/v1/chat/completions', { method: 'OPTIONS' });
    expect(res.status).toBe(405);
  });

  it('lets a page read answers and errors, with the request id and rate-limit headers exposed', async () => {
    const key = await createApiKey();
    const models = await call('/v1/models', { headers: { origin: ORIGIN, authorization: `Bearer ${key}` } });
    expect(models.status).toBe(200);
    expect(models.headers.get('access-control-allow-origin')).toBe('*');
    const refused = await call('/v1/chat/completions', { method: 'POST', headers: { origin: ORIGIN } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
    const exposed = refused.headers.get('access-control-expose-headers') ?? '';
    expect(exposed).toContain('x-request-id');
    expect(exposed).toContain('x-ratelimit-remaining-requests');
  });

  it.each(['/admin/api/tenants', '/nodes/heartbeat', '/dashboard/sign-in', '/healthz'])(
    'adds nothing on %s',
    async (path) => {
      const res = await preflight(path);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.status).not.toBe(204);
      const get = await call(path, { headers: { origin: ORIGIN } });
      expect(get.headers.get('access-control-allow-origin')).toBeNull();
    },
  );

  it('allows only the configured origins when CORS_ORIGINS lists them', async () => {
    const app = new Hono<AppEnv>();
    app.use('*', publicCors());
    app.post('/v1/chat/completions', (c) => c.json({ ok: true }));
    const configured = { ...env, CORS_ORIGINS: 'https://app.example, https://other.example' };
    const ask = (origin: string) =>
      app.request(
        '/v1/chat/completions',
        { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } },
        configured,
      );
    const allowed = await ask('https://other.example');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://other.example');
    expect(allowed.headers.get('vary')).toContain('Origin');
    const refused = await ask('https://evil.example');
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });
});
