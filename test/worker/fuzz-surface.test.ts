/**
 * Property test of the whole surface, taken from the app's own route table: any method on any
 * route, its parameters replaced by odd values, odd query strings, any credential (or a
 * dashboard session), any small body. Nothing answers 5xx or hangs; every refusal outside the
 * dashboard is a 4xx in OpenAI's shape (the dashboard answers with pages).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import app from '../../workers/gateway/index.ts';
import { signedIn } from './dashboard-helpers.ts';
import {
  assertGatewayRefusal,
  assertGatewayRefusalFor,
  callAndRead,
  createKeyRecord,
  createNodeToken,
  createTenant,
  engine,
  registerNode,
  uniqueModel,
} from './helpers.ts';

/** Every concrete path pattern the app routes (middleware-only wildcards left out). */
const PATTERNS = [...new Set(app.routes.map((route) => route.path))].filter((path) => !path.endsWith('*'));
const credentials: Record<string, Record<string, string>> = {};

beforeAll(async () => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
  const tenantId = await createTenant('fuzz-surface');
  const node = await registerNode([engine('ok-surface', uniqueModel('fuzz-surface'))]);
  Object.assign(credentials, {
    none: {},
    garbage: { authorization: 'Bearer garbage' },
    'api key': { authorization: `Bearer ${(await createKeyRecord({ tenantId })).key}` },
    'tenant admin key': {
      authorization: `Bearer ${(await createKeyRecord({ tenantId, kind: 'admin' })).key}`,
    },
    'node token': { authorization: `Bearer ${await createNodeToken()}` },
    'node credential': { authorization: `Bearer ${node.credential}` },
    operator: { authorization: 'Bearer test-admin-token' },
    'operator session': { cookie: (await signedIn('test-admin-token')).cookie },
  });
});

const paramValue = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  fc.constantFrom('..', '%2e%2e', '%00', '%2F', '__proto__', 'constructor', 'null', '-1', '💥', ' '),
  fc.integer({ min: 257, max: 5000 }).map((n) => 'p'.repeat(n)),
);
const query = fc.dictionary(
  fc.oneof(
    fc.constantFrom('model', 'tenant', 'key', 'from', 'to', 'group', 'next', 'code', 'limit'),
    fc.string({ maxLength: 8 }),
  ),
  fc.oneof(
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.constantFrom('-1', '1e999', 'NaN', '//evil.example', 'javascript:x'),
  ),
  { maxKeys: 3 },
);
const body = fc.oneof(
  fc.constant(null),
  fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ text, type: 'application/json' })),
  fc.jsonValue({ maxDepth: 3 }).map((value) => ({ text: JSON.stringify(value), type: 'application/json' })),
  fc
    .dictionary(
      fc.constantFrom('_csrf', 'name', 'credential', 'next', 'models', 'limits'),
      fc.string({ maxLength: 20 }),
    )
    .map((fields) => ({
      text: new URLSearchParams(fields).toString(),
      type: 'application/x-www-form-urlencoded',
    })),
);

function fill(pattern: string, values: string[]): string {
  let i = 0;
  return pattern.replace(/:[A-Za-z]+/g, () => encodeURIComponent(values[i++ % values.length]!));
}

describe('fuzzing every route in the table', { timeout: 60_000 }, () => {
  it("never answers 5xx or hangs, and refuses in its clients' shape outside the dashboard", async () => {
    expect(PATTERNS.length).toBeGreaterThan(30);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PATTERNS),
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
        fc.array(paramValue, { minLength: 1, maxLength: 3 }),
        query,
        fc.constantFrom(...Object.keys(credentials)),
        body,
        async (pattern, method, values, search, who, payload) => {
          const path = `${fill(pattern, values)}?${new URLSearchParams(search as Record<string, string>)}`;
          const headers: Record<string, string> = { ...credentials[who] };
          if (payload && method !== 'GET') headers['content-type'] = payload.type;
          const res = await callAndRead(path, {
            method,
            headers,
            body: payload && method !== 'GET' ? payload.text : null,
            redirect: 'manual',
          });
          const what = `${method} ${path.slice(0, 160)} as ${who}`;
          if (res.status >= 500) throw new Error(`${what} → ${res.status}: ${res.text.slice(0, 300)}`);
          // The Messages routes refuse in Anthropic's shape (render-error.ts), the rest in OpenAI's.
          if (res.status >= 400 && !pattern.startsWith('/dashboard'))
            assertGatewayRefusalFor(pattern, res, what);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('answers a path no route has with 404 route_not_found, for any method', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        async (segments, method) => {
          const path = `/no-such/${segments.map(encodeURIComponent).join('/')}`;
          const res = await callAndRead(path, { method });
          assertGatewayRefusal(res, `${method} ${path}`);
          expect(JSON.parse(res.text).error.code).toBe('route_not_found');
        },
      ),
      { numRuns: 60 },
    );
  });
});
