/**
 * The admin API refuses bad input with a 400 that names the field (413 for an oversized body)
 * and writes nothing when it does; and it publishes its OpenAPI 3.1 document without auth.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN,
  adminJson,
  call,
  chat,
  createKeyRecord,
  createTenant,
  engine,
  errorOf,
  registerNode,
  uniqueModel,
} from './helpers.ts';

let tenantId: string;
let keyId: string;
let key: string;

beforeAll(async () => {
  tenantId = await createTenant('input');
  ({ id: keyId, key } = await createKeyRecord({ tenantId, limits: { rpm: 100 } }));
});

/** What a bad request must leave alone: the tenant, its keys, the key's view and the audit log. */
async function state() {
  const [tenant, keys, view, audit] = await Promise.all(
    [
      `/admin/api/tenants/${tenantId}`,
      `/admin/api/tenants/${tenantId}/keys`,
      `/admin/api/keys/${keyId}`,
      '/admin/api/audit?limit=1000',
    ].map(async (path) => (await call(path, { headers: ADMIN })).json()),
  );
  const tenants = (await (await call('/admin/api/tenants', { headers: ADMIN })).json()) as {
    data: unknown[];
  };
  return { tenant, keys, view, audit, tenantCount: tenants.data.length };
}

async function expectRefused(res: Response, status: number, param?: string): Promise<void> {
  expect(res.status).toBe(status);
  const error = await errorOf(res);
  expect(error.type).toBe('invalid_request_error');
  if (param !== undefined) {
    expect(error.param).toBe(param);
    expect(error.message).toContain(param);
  }
}

describe('bad admin input', () => {
  const cases: Array<[string, string, () => string, unknown, string]> = [
    [
      'a negative limit',
      'POST',
      () => `/admin/api/tenants/${tenantId}/keys`,
      { name: 'k', limits: { rpm: -1 } },
      'limits.rpm',
    ],
    [
      'a zero limit',
      'POST',
      () => `/admin/api/tenants/${tenantId}/keys`,
      { name: 'k', limits: { concurrency: 0 } },
      'limits.concurrency',
    ],
    [
      'a fractional limit',
      'POST',
      () => `/admin/api/tenants/${tenantId}/keys`,
      { name: 'k', limits: { tpm: 1.5 } },
      'limits.tpm',
    ],
    [
      'a limit as a string',
      'POST',
      () => `/admin/api/tenants/${tenantId}/keys`,
      { name: 'k', limits: { rpm: '10' } },
      'limits.rpm',
    ],
    [
      'an unknown limit',
      'POST',
      () => `/admin/api/tenants/${tenantId}/keys`,
      { name: 'k', limits: { rps: 10 } },
      'limits.rps',
    ],
    [
      'an unknown field',
      'POST',
      () => `/admin/api/tenants/${tenantId}/keys`,
      { name: 'k', secret: 'mine' },
      'secret',
    ],
    [
      'a past expiresAt',
      'POST',
      () => `/admin/api/tenants/${tenantId}/keys`,
      { name: 'k', expiresAt: Date.now() - 1000 },
      'expiresAt',
    ],
    [
      'a past ISO expiresAt',
      'POST',
      () => `/admin/api/tenants/${tenantId}/keys`,
      { name: 'k', expiresAt: '2001-01-01T00:00:00Z' },
      'expiresAt',
    ],
    [
      'a malformed expiresAt',
      'POST',
      () => `/admin/api/tenants/${tenantId}/keys`,
      { name: 'k', expiresAt: 'tomorrow' },
      'expiresAt',
    ],
    ['a huge name', 'POST', () => `/admin/api/tenants/${tenantId}/keys`, { name: 'n'.repeat(5000) }, 'name'],
    ['a blank name', 'POST', () => `/admin/api/tenants/${tenantId}/keys`, { name: '   ' }, 'name'],
    [
      'an unknown kind',
      'POST',
      () => `/admin/api/tenants/${tenantId}/keys`,
      { name: 'k', kind: 'root' },
      'kind',
    ],
    [
      'a bad model pattern',
      'POST',
      () => `/admin/api/tenants/${tenantId}/keys`,
      { name: 'k', models: ['a*b'] },
      'models.0',
    ],
    [
      'a negative limit in a key PATCH',
      'PATCH',
      () => `/admin/api/keys/${keyId}`,
      { limits: { rpm: -5 } },
      'limits.rpm',
    ],
    [
      'an unknown field in a key PATCH',
      'PATCH',
      () => `/admin/api/keys/${keyId}`,
      { tenantId: 'tn_other' },
      'tenantId',
    ],
    [
      'a past expiresAt in a key PATCH',
      'PATCH',
      () => `/admin/api/keys/${keyId}`,
      { expiresAt: 1 },
      'expiresAt',
    ],
    [
      'a huge name in a key PATCH',
      'PATCH',
      () => `/admin/api/keys/${keyId}`,
      { name: 'n'.repeat(200) },
      'name',
    ],
    [
      'a negative grace',
      'POST',
      () => `/admin/api/keys/${keyId}/rotate`,
      { gracePeriodSeconds: -1 },
      'gracePeriodSeconds',
    ],
    [
      'a grace over a day',
      'POST',
      () => `/admin/api/keys/${keyId}/rotate`,
      { gracePeriodSeconds: 86_401 },
      'gracePeriodSeconds',
    ],
    [
      'an unknown field in a rotation',
      'POST',
      () => `/admin/api/keys/${keyId}/rotate`,
      { secret: 'mine' },
      'secret',
    ],
    [
      'a negative default limit',
      'PATCH',
      () => `/admin/api/tenants/${tenantId}`,
      { defaults: { limits: { tokensPerDay: -1 } } },
      'defaults.limits.tokensPerDay',
    ],
    [
      'an unknown default',
      'PATCH',
      () => `/admin/api/tenants/${tenantId}`,
      { defaults: { rpm: 5 } },
      'defaults.rpm',
    ],
    [
      'a huge tenant name',
      'PATCH',
      () => `/admin/api/tenants/${tenantId}`,
      { name: 'n'.repeat(129) },
      'name',
    ],
    ['a tenant without a name', 'POST', () => '/admin/api/tenants', { defaults: {} }, 'name'],
    [
      'a tenant with a negative default',
      'POST',
      () => '/admin/api/tenants',
      { name: 't', defaults: { limits: { rpm: -1 } } },
      'defaults.limits.rpm',
    ],
    [
      'a tenant with an unknown field',
      'POST',
      () => '/admin/api/tenants',
      { name: 't', id: 'tn_mine' },
      'id',
    ],
    [
      'a node token with an unknown field',
      'POST',
      () => '/admin/api/node-tokens',
      { name: 't', models: ['*'], secret: 'x' },
      'secret',
    ],
  ];

  for (const [what, method, path, body, param] of cases) {
    it(`answers 400 naming \`${param}\` for ${what}, and writes nothing`, async () => {
      const before = await state();
      await expectRefused(await adminJson(method, path(), body), 400, param);
      expect(await state()).toEqual(before);
    });
  }

  it('answers 413 for a body over the admin cap, and writes nothing', async () => {
    const before = await state();
    const res = await adminJson('POST', `/admin/api/tenants/${tenantId}/keys`, { name: 'x'.repeat(70_000) });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('request_too_large');
    expect(await state()).toEqual(before);
  });

  it('answers 400 for a body that is not JSON, and 400 for bad usage query parameters', async () => {
    const res = await call(`/admin/api/tenants/${tenantId}/keys`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: '{"name":',
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('invalid_json');
    for (const [query, param] of [
      ['granularity=week', 'granularity'],
      ['from=-5', 'from'],
      ['to=soon', 'to'],
      ['secret=1', 'secret'],
    ] as const) {
      const usage = await call(`/admin/api/usage?${query}`, { headers: ADMIN });
      await expectRefused(usage, 400, param);
    }
    await expectRefused(await call('/admin/api/audit?limit=0', { headers: ADMIN }), 400, 'limit');
  });

  it('leaves a key working as before after its refused PATCH and rotation', async () => {
    await adminJson('PATCH', `/admin/api/keys/${keyId}`, { limits: { rpm: -1 } });
    await adminJson('POST', `/admin/api/keys/${keyId}/rotate`, { gracePeriodSeconds: -1 });
    const model = uniqueModel('input');
    await registerNode([engine('ok', model)]);
    const res = await chat(key, { model });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('100');
  });
});

describe('the OpenAPI document', () => {
  it('is served without auth as OpenAPI 3.1 describing the admin routes', async () => {
    const res = await call('/admin/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const doc = (await res.json()) as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toBeTruthy();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/tenants',
        '/tenants/{tenantId}',
        '/tenants/{tenantId}/keys',
        '/keys/{keyId}',
        '/keys/{keyId}/rotate',
        '/usage',
        '/audit',
        '/node-tokens',
        '/nodes',
        '/pools/{model}',
      ]),
    );
    expect(Object.keys(doc.paths['/tenants/{tenantId}/keys']!)).toEqual(
      expect.arrayContaining(['post', 'get']),
    );
  });

  it('is well formed: every operation answers something, every path parameter is declared, bodies are JSON Schema', async () => {
    const doc = (await (await call('/admin/api/openapi.json')).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const methods = ['get', 'post', 'put', 'patch', 'delete'];
    for (const [path, item] of Object.entries(doc.paths)) {
      expect(path.startsWith('/'), path).toBe(true);
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = ((item.parameters ?? []) as Array<{ name: string; in: string; required: boolean }>)
        .filter((p) => p.in === 'path')
        .map((p) => {
          expect(p.required, `${path} ${p.name}`).toBe(true);
          return p.name;
        });
      expect(declared.sort(), path).toEqual(templated.sort());
      for (const method of methods.filter((m) => m in item)) {
        const op = item[method] as {
          summary?: string;
          responses: Record<string, { description: string }>;
          requestBody?: { content: Record<string, { schema: { type?: string; properties?: object } }> };
        };
        expect(op.summary, `${method} ${path}`).toBeTruthy();
        expect(Object.keys(op.responses).length, `${method} ${path}`).toBeGreaterThan(0);
        for (const [status, response] of Object.entries(op.responses)) {
          expect(status, `${method} ${path}`).toMatch(/^[1-5]\d\d$/);
          expect(typeof response.description, `${method} ${path} ${status}`).toBe('string');
        }
        if (op.requestBody) {
          const schema = op.requestBody.content['application/json']!.schema;
          expect(schema.type, `${method} ${path}`).toBe('object');
          expect(schema.properties, `${method} ${path}`).toBeDefined();
        }
      }
    }
    const createKey = (
      doc.paths['/tenants/{tenantId}/keys']!.post as {
        requestBody: {
          content: {
            'application/json': {
              schema: {
                properties: Record<string, unknown>;
                required?: string[];
                additionalProperties?: unknown;
              };
            };
          };
        };
      }
    ).requestBody.content['application/json'].schema;
    expect(Object.keys(createKey.properties)).toEqual(
      expect.arrayContaining(['name', 'kind', 'models', 'limits', 'expiresAt']),
    );
    expect(createKey.required).toEqual(['name']);
    expect(createKey.additionalProperties).toBe(false);
  });
});
