/**
 * Property tests of the admin API with bad input and wrong callers: malformed, truncated, deep,
 * huge and mistyped bodies, wrong content types, ids nobody made, absurd query parameters, and
 * valid requests from every caller that may not make them. Every refusal is a 4xx in OpenAI's
 * shape — never a 5xx, never a hang — and nothing is written: tenants, keys, node tokens and the
 * audit log read the same before and after.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CreateKeySchema,
  CreateNodeTokenSchema,
  CreateTenantSchema,
  PatchKeySchema,
  PatchTenantSchema,
  RotateKeySchema,
} from '../../workers/gateway/routes/admin/schemas.ts';
import { SetPoolPolicySchema } from '../../workers/gateway/routes/admin/pools.ts';
import type * as z from '../../src/zod-mini.ts';
import { signedIn } from './dashboard-helpers.ts';
import {
  ADMIN,
  adminJson,
  assertGatewayRefusal,
  callAndRead,
  createKeyRecord,
  createNodeToken,
  createTenant,
  engine,
  registerNode,
  uniqueModel,
  writableState,
} from './helpers.ts';

const MAX_ADMIN_BODY = 64 * 1024;

interface WriteRoute {
  name: string;
  method: string;
  path: () => string;
  schema: z.ZodMiniType;
  /** A body the route would accept (and act on). */
  valid: () => Record<string, unknown>;
  /** Only the operator may use it. */
  operatorOnly: boolean;
}

let tenantId: string;
let keyId: string;
let servedModel: string;
const callers: Record<string, string> = {};
let sessionCookie: string;
/** The tenant's own admin key: it may touch its tenant, never the operator's routes. */
let ownAdminKey: string;

beforeAll(async () => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
  tenantId = await createTenant('fuzz-admin');
  ({ id: keyId } = await createKeyRecord({ tenantId }));
  const other = await createTenant('fuzz-other');
  const api = await createKeyRecord({ tenantId });
  const revoked = await createKeyRecord({ tenantId });
  await adminJson('DELETE', `/admin/api/keys/${revoked.id}`);
  servedModel = uniqueModel('fuzz-admin');
  const node = await registerNode([engine('ok-admin', servedModel)]);
  Object.assign(callers, {
    none: '',
    garbage: 'Bearer garbage',
    'api key': `Bearer ${api.key}`,
    'revoked api key': `Bearer ${revoked.key}`,
    'node token': `Bearer ${await createNodeToken()}`,
    'node credential': `Bearer ${node.credential}`,
    'admin token with a space': 'Bearer test-admin-token x',
    'admin token as Basic': `Basic ${btoa('test-admin-token')}`,
    "another tenant's admin key": `Bearer ${(await createKeyRecord({ tenantId: other, kind: 'admin' })).key}`,
  });
  sessionCookie = (await signedIn('test-admin-token')).cookie;
  ownAdminKey = (await createKeyRecord({ tenantId, kind: 'admin' })).key;
});

const WRITE_ROUTES: WriteRoute[] = [
  {
    name: 'create tenant',
    method: 'POST',
    path: () => '/admin/api/tenants',
    schema: CreateTenantSchema,
    valid: () => ({ name: 'fuzzed' }),
    operatorOnly: true,
  },
  {
    name: 'patch tenant',
    method: 'PATCH',
    path: () => `/admin/api/tenants/${tenantId}`,
    schema: PatchTenantSchema,
    valid: () => ({ name: 'renamed', defaults: { limits: { rpm: 5 } } }),
    operatorOnly: false,
  },
  {
    name: 'create key',
    method: 'POST',
    path: () => `/admin/api/tenants/${tenantId}/keys`,
    schema: CreateKeySchema,
    valid: () => ({ name: 'k', models: ['m*'], limits: { rpm: 1 } }),
    operatorOnly: false,
  },
  {
    name: 'patch key',
    method: 'PATCH',
    path: () => `/admin/api/keys/${keyId}`,
    schema: PatchKeySchema,
    valid: () => ({ name: 'renamed', limits: { tpm: 10 } }),
    operatorOnly: false,
  },
  {
    name: 'rotate key',
    method: 'POST',
    path: () => `/admin/api/keys/${keyId}/rotate`,
    schema: RotateKeySchema,
    valid: () => ({ gracePeriodSeconds: 10 }),
    operatorOnly: false,
  },
  {
    name: 'create node token',
    method: 'POST',
    path: () => '/admin/api/node-tokens',
    schema: CreateNodeTokenSchema,
    valid: () => ({ name: 'fuzzed', models: ['m*'] }),
    operatorOnly: true,
  },
  {
    name: 'set pool policy',
    method: 'PUT',
    path: () => `/admin/api/pools/${encodeURIComponent(servedModel)}/policy`,
    schema: SetPoolPolicySchema,
    valid: () => ({ policy: null }),
    operatorOnly: true,
  },
];

const writeRoute = fc.constantFrom(...WRITE_ROUTES.map((route) => route.name)).map(
  (name) => WRITE_ROUTES.find((route) => route.name === name)!,
  (route) => (route as WriteRoute).name,
);

/** Sends as the operator unless `auth` names other credentials (an empty object: none at all). */
function send(
  route: { method: string; path: string },
  body: BodyInit | null,
  headers: Record<string, string>,
  auth: Record<string, string> = ADMIN,
) {
  return callAndRead(route.path, {
    method: route.method,
    headers: { ...auth, 'content-type': 'application/json', ...headers },
    body,
  });
}

/** Checks `property` for `numRuns` cases, and that nothing the admin API can change was changed by them. */
async function writesNothing<T>(property: fc.IAsyncPropertyWithHooks<T>, numRuns: number): Promise<void> {
  const before = await writableState();
  await fc.assert(property, { numRuns });
  expect(await writableState()).toEqual(before);
}

const absurd = fc.oneof(
  fc.integer({ min: -1e12, max: 0 }),
  fc.constantFrom(1e300, 2 ** 53 + 1, 0.5, 1e13, -0.5),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', '   ', '\u0000', 'n'.repeat(129), '\ud800', '2001-01-01T00:00:00Z', 'tomorrow'),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);
const FIELDS = [
  'name',
  'defaults',
  'kind',
  'models',
  'limits',
  'expiresAt',
  'gracePeriodSeconds',
  'policy',
  'owner',
  'maxConcurrency',
  'tenants',
  'secret',
  '__proto__',
  'constructor',
] as const;

describe('fuzzing the admin API', { timeout: 60_000 }, () => {
  it('refuses mistyped, out-of-range and unknown fields with a 400, writing nothing', async () => {
    await writesNothing(
      fc.asyncProperty(
        writeRoute,
        fc.dictionary(fc.constantFrom(...FIELDS), absurd, { minKeys: 1, maxKeys: 3 }),
        async (route, overrides) => {
          const body = { ...route.valid(), ...overrides };
          // Only bodies the route must refuse: a valid one would (rightly) be written.
          fc.pre(!route.schema.safeParse(JSON.parse(JSON.stringify(body))).success);
          const res = await send({ method: route.method, path: route.path() }, JSON.stringify(body), {});
          assertGatewayRefusal(
            res,
            `${route.method} ${route.path()} ${JSON.stringify(overrides).slice(0, 200)}`,
          );
          expect(res.status).toBe(400);
        },
      ),
      200,
    );
  });

  it('refuses malformed, truncated, deep and huge bodies and wrong content types, writing nothing', async () => {
    const badBody = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ text, type: 'application/json' })),
      fc.double({ min: 0, max: 0.99, noNaN: true }).map((cut) => ({ cut, type: 'application/json' })),
      fc.integer({ min: 129, max: 20_000 }).map((depth) => ({
        text: `{"name":"x","defaults":${'['.repeat(depth)}${']'.repeat(depth)}}`,
        type: 'application/json',
      })),
      fc.integer({ min: MAX_ADMIN_BODY + 1, max: 1_000_000 }).map((size) => ({
        text: `{"name":"${'x'.repeat(size)}"}`,
        type: 'application/json',
      })),
      fc
        .constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'text/html',
        )
        .map((type) => ({ valid: true, type })),
    );
    await writesNothing(
      fc.asyncProperty(writeRoute, badBody, async (route, bad) => {
        const whole = JSON.stringify(route.valid());
        const text =
          'text' in bad
            ? bad.text
            : 'cut' in bad
              ? whole.slice(0, Math.floor(bad.cut * whole.length))
              : whole;
        // The empty body reads as {}, which PATCH and rotate rightly accept.
        fc.pre(text.trim() !== '' || route.schema.safeParse({}).success === false);
        const res = await send({ method: route.method, path: route.path() }, text, {
          'content-type': bad.type,
        });
        assertGatewayRefusal(res, `${route.method} ${route.path()} ${text.slice(0, 80)} as ${bad.type}`);
      }),
      150,
    );
  });

  it('refuses every caller that may not make a valid request, writing nothing', async () => {
    const caller = fc.constantFrom(
      ...Object.keys(callers),
      'session cookie',
      'tenant admin (operator-only route)',
    );
    await writesNothing(
      fc.asyncProperty(writeRoute, caller, async (route, who) => {
        if (who === 'tenant admin (operator-only route)' && !route.operatorOnly) return;
        const auth: Record<string, string> =
          who === 'session cookie'
            ? { cookie: sessionCookie }
            : who === 'tenant admin (operator-only route)'
              ? { authorization: `Bearer ${ownAdminKey}` }
              : callers[who]
                ? { authorization: callers[who] }
                : {};
        const res = await send(
          { method: route.method, path: route.path() },
          JSON.stringify(route.valid()),
          {},
          auth,
        );
        assertGatewayRefusal(res, `${route.method} ${route.path()} as ${who}`);
        expect([401, 403, 404]).toContain(res.status);
      }),
      150,
    );
  });

  it('answers ids nobody made with 404 (or 400), writing nothing', async () => {
    const id = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }),
      fc.constantFrom('..', '.', '%00', 'tn_', 'sk-', '__proto__', 'constructor', ' '),
      fc.integer({ min: 200, max: 20_000 }).map((n) => 'z'.repeat(n)),
    );
    const targets: Array<[string, string, string, unknown]> = [
      ['PATCH', '/admin/api/tenants/', '', { name: 'x' }],
      ['DELETE', '/admin/api/tenants/', '', undefined],
      ['GET', '/admin/api/tenants/', '', undefined],
      ['POST', '/admin/api/tenants/', '/keys', { name: 'k' }],
      ['GET', '/admin/api/tenants/', '/keys', undefined],
      ['GET', '/admin/api/keys/', '', undefined],
      ['PATCH', '/admin/api/keys/', '', { name: 'x' }],
      ['POST', '/admin/api/keys/', '/rotate', {}],
      ['DELETE', '/admin/api/keys/', '', undefined],
      ['DELETE', '/admin/api/node-tokens/', '', undefined],
      ['DELETE', '/admin/api/nodes/', '', undefined],
      // (A pool's policy may be read and set before anyone serves the model: not here.)
      ['GET', '/admin/api/pools/', '', undefined],
    ];
    const target = fc.constantFrom(...targets);
    await writesNothing(
      fc.asyncProperty(target, id, async ([method, prefix, suffix, body], value) => {
        const path = `${prefix}${encodeURIComponent(value)}${suffix}`;
        const res = await send({ method, path }, body === undefined ? null : JSON.stringify(body), {});
        assertGatewayRefusal(res, `${method} ${path.slice(0, 120)}`);
        expect([400, 404]).toContain(res.status);
      }),
      150,
    );
  });

  it('answers absurd usage and audit queries with 200 or a 400, never a 5xx', async () => {
    const value = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.constantFrom('-1', '0', '1e400', 'NaN', '9007199254740993', '', '1.5', '%00', 'minute', 'century'),
      fc.integer().map(String),
    );
    const query = fc.dictionary(
      fc.constantFrom('tenantId', 'keyId', 'model', 'from', 'to', 'granularity', 'limit', 'x', '__proto__'),
      value,
      { maxKeys: 4 },
    );
    await writesNothing(
      fc.asyncProperty(
        fc.constantFrom('/admin/api/usage', '/admin/api/audit'),
        query,
        fc.boolean(),
        async (path, q, csv) => {
          const search = new URLSearchParams(q as Record<string, string>).toString();
          const res = await callAndRead(`${path}?${search}`, {
            headers: { ...ADMIN, ...(csv ? { accept: 'text/csv' } : {}) },
          });
          if (res.status !== 200) assertGatewayRefusal(res, `GET ${path}?${search}`);
        },
      ),
      120,
    );
  });
});
