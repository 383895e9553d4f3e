/**
 * The authorization matrix: every route of the app's own route table (Hono's `app.routes`) ×
 * every kind of credential → the status the rule table below expects. A route that appears in
 * the app without a rule fails the test, naming it: a new route must be given a rule here.
 *
 * Credential kinds: none, garbage, an API key, a revoked API key, a tenant admin key, a node
 * token, a node credential, the operator's ADMIN_TOKEN, and the two dashboard sessions (the
 * cookie of an operator and of a tenant admin, sent alone: a session cookie must open nothing
 * outside the dashboard, and change nothing without its CSRF token).
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import app from '../../workers/gateway/index.ts';
import { dashboardAssets } from '../../workers/gateway/dashboard/assets/index.ts';
import { signedIn } from './dashboard-helpers.ts';
import {
  ADMIN,
  adminJson,
  callAndRead,
  createKeyRecord,
  createNodeToken,
  createTenant,
  engine,
  fakeNodeUrl,
  anthropicRefusalProblems,
  gatewayRefusalProblems,
  serveEngines,
  registerNode,
  uniqueModel,
} from './helpers.ts';

const KINDS = [
  'none',
  'garbage',
  'apiKey',
  'revokedApiKey',
  'tenantAdmin',
  'otherTenantAdmin',
  'nodeToken',
  'nodeCredential',
  'operator',
  'operatorSession',
  'tenantSession',
] as const;
type Kind = (typeof KINDS)[number];

/** An exact status, or a class. */
type Expected = number | '2xx' | '3xx';

interface Probe {
  method: string;
  path: string;
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

interface Rule {
  /** What to send; built per cell, so a destructive route gets a fresh target each time. */
  probe: (kind: Kind) => Probe | Promise<Probe>;
  /**
   * The node credential must be a live node's: a fresh one (the registry evicts a silent node, and
   * drain and deregister end it).
   */
  freshNode?: boolean;
  /** The status per credential kind; `others` for every kind not named. */
  expect: Partial<Record<Kind, Expected>> & { others: Expected };
}

// ---------------------------------------------------------------------------------------------
// The fixture: a tenant with its keys, a served model, node tokens and sessions.

let tenantId: string;
let keyOfTenant: string;
let served: string;
let assetPath: string;
const static_: Partial<Record<Kind, Record<string, string>>> = {};

beforeAll(async () => {
  // Every forwarded call logs a line, and every node left silent a warning.
  vi.spyOn(console, 'log').mockImplementation(() => {});
  vi.spyOn(console, 'warn').mockImplementation(() => {});
  tenantId = await createTenant('authz');
  const api = await createKeyRecord({ tenantId });
  const revoked = await createKeyRecord({ tenantId });
  expect((await adminJson('DELETE', `/admin/api/keys/${revoked.id}`)).status).toBe(200);
  const tenantAdmin = await createKeyRecord({ tenantId, kind: 'admin' });
  keyOfTenant = (await createKeyRecord({ tenantId })).id;
  served = uniqueModel('authz');
  // Kept served however long the matrix takes; the node credential of other rules is any node's.
  await serveEngines([engine('ok-authz', served)]);
  const someNode = await registerNode([engine('ok-matrix', uniqueModel('authz-node'))]);
  Object.assign(static_, {
    none: {},
    garbage: { authorization: 'Bearer not-a-credential' },
    apiKey: { authorization: `Bearer ${api.key}` },
    revokedApiKey: { authorization: `Bearer ${revoked.key}` },
    tenantAdmin: { authorization: `Bearer ${tenantAdmin.key}` },
    otherTenantAdmin: {
      authorization: `Bearer ${(await createKeyRecord({ tenantId: await createTenant('authz-other'), kind: 'admin' })).key}`,
    },
    nodeToken: { authorization: `Bearer ${await createNodeToken()}` },
    nodeCredential: { authorization: `Bearer ${someNode.credential}` },
    operator: ADMIN,
    operatorSession: { cookie: (await signedIn('test-admin-token')).cookie },
    tenantSession: { cookie: (await signedIn(tenantAdmin.key)).cookie },
  });
  assetPath = (await dashboardAssets()).appCss.url;
});

/** The headers of a credential kind for a rule. */
async function credentialOf(kind: Kind, rule: Rule): Promise<Record<string, string>> {
  if (kind !== 'nodeCredential' || !rule.freshNode) return static_[kind]!;
  const node = await registerNode([engine('ok-matrix', uniqueModel('authz-node'))]);
  return { authorization: `Bearer ${node.credential}` };
}

async function freshTenant(): Promise<string> {
  return createTenant('authz-victim');
}

async function freshKeyOfTenant(): Promise<string> {
  return (await createKeyRecord({ tenantId })).id;
}

async function freshNodeToken(): Promise<string> {
  const res = await adminJson('POST', '/admin/api/node-tokens', { name: 'authz-victim', models: ['x'] });
  return ((await res.json()) as { id: string }).id;
}

async function freshNode(): Promise<string> {
  return (await registerNode([engine('ok-victim', uniqueModel('authz-victim'))])).nodeId;
}

// ---------------------------------------------------------------------------------------------
// The rules.

const json = (method: string, path: string, body: unknown = {}): Probe => ({
  method,
  path,
  body: JSON.stringify(body),
  contentType: 'application/json',
});
const get = (path: string): Probe => ({ method: 'GET', path });

const everyone = (status: Expected, probe: Rule['probe']): Rule => ({ probe, expect: { others: status } });
const apiKeyOnly = (probe: Rule['probe']): Rule => ({ probe, expect: { apiKey: 200, others: 401 } });
const nodeTokenOnly = (status: Expected, probe: Rule['probe']): Rule => ({
  probe,
  expect: { nodeToken: status, others: 401 },
});
const nodeCredentialOnly = (probe: Rule['probe']): Rule => ({
  probe,
  expect: { nodeCredential: 200, others: 401 },
});
/**
 * Tenant-scoped admin routes: the operator and the tenant's own admin; another tenant's admin
 * finds nothing there (404, as if it did not exist), or its own data on a list route.
 */
const tenantAdmins = (status: Expected, probe: Rule['probe'], otherTenant: Expected = 404): Rule => ({
  probe,
  expect: { operator: status, tenantAdmin: status, otherTenantAdmin: otherTenant, others: 401 },
});
const operatorOnly = (status: Expected, probe: Rule['probe']): Rule => ({
  probe,
  expect: { operator: status, tenantAdmin: 403, otherTenantAdmin: 403, others: 401 },
});
/** A dashboard page: the browser without a session is sent to sign in. */
const page = (probe: Rule['probe'], tenantSession: Expected = 200): Rule => ({
  probe,
  expect: { operatorSession: 200, tenantSession, others: 303 },
});
/** A dashboard form: no session, 401; a session cookie without its CSRF token, 403. */
const form = (path: () => string): Rule => ({
  probe: () => ({
    method: 'POST',
    path: path(),
    body: 'name=x',
    contentType: 'application/x-www-form-urlencoded',
  }),
  expect: { operatorSession: 403, tenantSession: 403, others: 401 },
});

const chatBody = () => ({
  model: served,
  messages: [{ role: 'user', content: 'hi' }],
  prompt: 'hi',
  input: 'hi',
  session_id: 1,
  max_tokens: 2,
});
const forwardedJson = (path: string) => apiKeyOnly(() => json('POST', path, chatBody()));
const forwardedUpload = (path: string) =>
  apiKeyOnly(() => ({
    method: 'POST',
    path,
    body: `--b\r\nContent-Disposition: form-data; name="model"\r\n\r\n${served}\r\n--b--\r\n`,
    contentType: 'multipart/form-data; boundary=b',
  }));
const methodNotAllowed = (path: string) => everyone(405, () => get(path));
const methodNotAllowedFor = (method: string, path: string) => everyone(405, () => ({ method, path }));
/** Calls on a stored response nobody made: an API key learns it is unknown (404), nobody else anything. */
const unknownStoredResponse = (method: string, suffix: string): Rule => ({
  probe: () => ({ method, path: `/v1/responses/resp_nobody${suffix}` }),
  expect: { apiKey: 404, others: 401 },
});

const FORWARDED_JSON = [
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
  '/v2/embed',
  '/v1/rerank',
  '/rerank',
  '/v2/rerank',
  '/v1/score',
  '/score',
  '/classify',
  '/v1/classify',
  '/pooling',
  '/tokenize',
  '/v1/tokenize',
  '/detokenize',
  '/v1/detokenize',
  '/v1/moderations',
  '/v1/images/generations',
  '/v1/audio/speech',
  '/v1/chat/interactive',
];
const FORWARDED_UPLOADS = ['/v1/audio/transcriptions', '/v1/audio/translations'];

const registration = () =>
  json('POST', '/nodes/register', {
    name: `authz-${crypto.randomUUID().slice(0, 8)}`,
    url: fakeNodeUrl(),
    engines: [engine('ok-reg', uniqueModel('authz-reg'))],
  });

const RULES: Record<string, Rule> = {
  'ALL /*': everyone(404, () => get('/no-such-route')),
  'GET /healthz': everyone(200, () => get('/healthz')),

  // The OpenAI surface: API keys only.
  'GET /v1/models': apiKeyOnly(() => get('/v1/models')),
  'GET /v1/models/:model': apiKeyOnly(() => get(`/v1/models/${encodeURIComponent(served)}`)),
  ...Object.fromEntries(FORWARDED_JSON.map((path) => [`POST ${path}`, forwardedJson(path)])),
  'POST /v1/chat/completions/batch': apiKeyOnly(() =>
    json('POST', '/v1/chat/completions/batch', {
      ...chatBody(),
      messages: [[{ role: 'user', content: 'hi' }]],
    }),
  ),
  'ALL /v1/chat/completions/batch': methodNotAllowed('/v1/chat/completions/batch'),
  ...Object.fromEntries(FORWARDED_UPLOADS.map((path) => [`POST ${path}`, forwardedUpload(path)])),
  ...Object.fromEntries(
    [...FORWARDED_JSON, ...FORWARDED_UPLOADS].map((path) => [`ALL ${path}`, methodNotAllowed(path)]),
  ),

  // The Responses API: a create is forwarded; a stored response answers only its tenant's keys.
  'POST /v1/responses': apiKeyOnly(() => json('POST', '/v1/responses', { model: served, input: 'hi' })),
  'GET /v1/responses/:id': unknownStoredResponse('GET', ''),
  'DELETE /v1/responses/:id': unknownStoredResponse('DELETE', ''),
  'POST /v1/responses/:id/cancel': unknownStoredResponse('POST', '/cancel'),
  'GET /v1/responses/:id/input_items': unknownStoredResponse('GET', '/input_items'),
  'ALL /v1/responses': methodNotAllowed('/v1/responses'),
  'ALL /v1/responses/:id': methodNotAllowedFor('PUT', '/v1/responses/resp_x'),
  'ALL /v1/responses/:id/cancel': methodNotAllowed('/v1/responses/resp_x/cancel'),
  'ALL /v1/responses/:id/input_items': methodNotAllowedFor('POST', '/v1/responses/resp_x/input_items'),

  // Anthropic's Messages API: the same API keys (as a bearer token here), Anthropic's error shape.
  'POST /v1/messages': apiKeyOnly(() =>
    json('POST', '/v1/messages', {
      model: served,
      max_tokens: 2,
      messages: [{ role: 'user', content: 'hi' }],
    }),
  ),
  'POST /v1/messages/count_tokens': apiKeyOnly(() =>
    json('POST', '/v1/messages/count_tokens', { model: served, messages: [{ role: 'user', content: 'hi' }] }),
  ),
  'ALL /v1/messages': methodNotAllowed('/v1/messages'),
  'ALL /v1/messages/count_tokens': methodNotAllowed('/v1/messages/count_tokens'),

  // The realtime WebSocket: an upgrade (101), with the key as for any call.
  'GET /v1/realtime': {
    probe: () => ({
      method: 'GET',
      path: `/v1/realtime?model=${encodeURIComponent(served)}`,
      headers: { upgrade: 'websocket' },
    }),
    expect: { apiKey: 101, others: 401 },
  },
  'ALL /v1/realtime': methodNotAllowedFor('POST', '/v1/realtime'),

  // The node API: a node token registers; the node's own credential does the rest.
  'POST /nodes/register': nodeTokenOnly(201, registration),
  'POST /nodes/register/dry-run': nodeTokenOnly(200, async () => ({
    ...(await registration()),
    path: '/nodes/register/dry-run',
  })),
  'GET /nodes/self': { ...nodeCredentialOnly(() => get('/nodes/self')), freshNode: true },
  'POST /nodes/heartbeat': {
    ...nodeCredentialOnly(() =>
      json('POST', '/nodes/heartbeat', { engines: [engine('ok-matrix', 'authz-beat')] }),
    ),
    freshNode: true,
  },
  'POST /nodes/drain': { ...nodeCredentialOnly(() => json('POST', '/nodes/drain')), freshNode: true },
  'POST /nodes/deregister': {
    ...nodeCredentialOnly(() => json('POST', '/nodes/deregister')),
    freshNode: true,
  },

  // The admin API: the operator everything, a tenant admin its own tenant, nobody else anything.
  'GET /admin/api/openapi.json': everyone(200, () => get('/admin/api/openapi.json')),
  'ALL /admin/api/*': tenantAdmins(404, () => get('/admin/api/no-such-route')),
  'POST /admin/api/tenants': operatorOnly(201, () =>
    json('POST', '/admin/api/tenants', { name: 'authz-new' }),
  ),
  'GET /admin/api/tenants': tenantAdmins(200, () => get('/admin/api/tenants'), 200),
  'GET /admin/api/tenants/:tenantId': tenantAdmins(200, () => get(`/admin/api/tenants/${tenantId}`)),
  'PATCH /admin/api/tenants/:tenantId': tenantAdmins(200, () =>
    json('PATCH', `/admin/api/tenants/${tenantId}`, { name: 'authz' }),
  ),
  'DELETE /admin/api/tenants/:tenantId': operatorOnly(200, async () => ({
    method: 'DELETE',
    path: `/admin/api/tenants/${await freshTenant()}`,
  })),
  'POST /admin/api/tenants/:tenantId/keys': tenantAdmins(201, () =>
    json('POST', `/admin/api/tenants/${tenantId}/keys`, { name: 'authz-new' }),
  ),
  'GET /admin/api/tenants/:tenantId/keys': tenantAdmins(200, () =>
    get(`/admin/api/tenants/${tenantId}/keys`),
  ),
  'GET /admin/api/keys/:keyId': tenantAdmins(200, () => get(`/admin/api/keys/${keyOfTenant}`)),
  'PATCH /admin/api/keys/:keyId': tenantAdmins(200, () =>
    json('PATCH', `/admin/api/keys/${keyOfTenant}`, { name: 'renamed' }),
  ),
  'POST /admin/api/keys/:keyId/rotate': tenantAdmins(200, async () =>
    json('POST', `/admin/api/keys/${await freshKeyOfTenant()}/rotate`),
  ),
  'DELETE /admin/api/keys/:keyId': tenantAdmins(200, async () => ({
    method: 'DELETE',
    path: `/admin/api/keys/${await freshKeyOfTenant()}`,
  })),
  'GET /admin/api/usage': tenantAdmins(200, () => get('/admin/api/usage'), 200),
  'GET /admin/api/audit': tenantAdmins(200, () => get('/admin/api/audit'), 200),
  'ALL /admin/api/node-tokens': operatorOnly(404, () => json('PUT', '/admin/api/node-tokens')),
  'ALL /admin/api/node-tokens/*': operatorOnly(404, () => get('/admin/api/node-tokens/nt_x')),
  'POST /admin/api/node-tokens': operatorOnly(201, () =>
    json('POST', '/admin/api/node-tokens', { name: 'authz-new', models: ['x'] }),
  ),
  'GET /admin/api/node-tokens': operatorOnly(200, () => get('/admin/api/node-tokens')),
  'DELETE /admin/api/node-tokens/:tokenId': operatorOnly(200, async () => ({
    method: 'DELETE',
    path: `/admin/api/node-tokens/${await freshNodeToken()}`,
  })),
  'ALL /admin/api/nodes': operatorOnly(404, () => json('PUT', '/admin/api/nodes')),
  'ALL /admin/api/nodes/*': operatorOnly(404, () => get('/admin/api/nodes/nd_x')),
  'GET /admin/api/nodes': operatorOnly(200, () => get('/admin/api/nodes')),
  'DELETE /admin/api/nodes/:nodeId': operatorOnly(200, async () => ({
    method: 'DELETE',
    path: `/admin/api/nodes/${await freshNode()}`,
  })),
  'ALL /admin/api/pools/*': operatorOnly(404, () => get(`/admin/api/pools/${encodeURIComponent(served)}/x`)),
  'GET /admin/api/pools/:model': operatorOnly(200, () =>
    get(`/admin/api/pools/${encodeURIComponent(served)}`),
  ),
  'ALL /admin/api/pools/:model/policy': operatorOnly(404, () => ({
    method: 'DELETE',
    path: `/admin/api/pools/${encodeURIComponent(served)}/policy`,
  })),
  'GET /admin/api/pools/:model/policy': operatorOnly(200, () =>
    get(`/admin/api/pools/${encodeURIComponent(served)}/policy`),
  ),
  'PUT /admin/api/pools/:model/policy': operatorOnly(200, () =>
    json('PUT', `/admin/api/pools/${encodeURIComponent(served)}/policy`, { policy: null }),
  ),

  // The dashboard: bearer credentials open no page; sessions open what their credential opens.
  'ALL /dashboard/*': {
    probe: () => get('/dashboard/no-such-page'),
    expect: { operatorSession: 404, tenantSession: 404, others: 303 },
  },
  'GET /dashboard/': everyone(301, () => get('/dashboard/')),
  'GET /dashboard/assets/:file': everyone(200, () => get(assetPath)),
  'GET /dashboard/sign-in': everyone(200, () => get('/dashboard/sign-in')),
  // The form's credential field signs in, never a header or a cookie.
  'POST /dashboard/sign-in': everyone(401, () => ({
    method: 'POST',
    path: '/dashboard/sign-in',
    body: 'credential=&next=%2Fdashboard',
    contentType: 'application/x-www-form-urlencoded',
  })),
  'GET /dashboard/sign-in/link': everyone(410, () => get('/dashboard/sign-in/link?code=forged')),
  'POST /dashboard/sign-in-links': {
    probe: () => json('POST', '/dashboard/sign-in-links'),
    expect: { operator: 201, others: 401 },
  },
  'POST /dashboard/sign-out': form(() => '/dashboard/sign-out'),
  'GET /dashboard': page(() => get('/dashboard')),
  'GET /dashboard/keys': page(() => get('/dashboard/keys')),
  'POST /dashboard/keys': form(() => '/dashboard/keys'),
  'GET /dashboard/keys/:keyId': page(() => get(`/dashboard/keys/${keyOfTenant}`)),
  'POST /dashboard/keys/:keyId': form(() => `/dashboard/keys/${keyOfTenant}`),
  'POST /dashboard/keys/:keyId/rotate': form(() => `/dashboard/keys/${keyOfTenant}/rotate`),
  'POST /dashboard/keys/:keyId/revoke': form(() => `/dashboard/keys/${keyOfTenant}/revoke`),
  'GET /dashboard/usage.csv': page(() => get('/dashboard/usage.csv')),
  'GET /dashboard/usage': page(() => get('/dashboard/usage')),
  'GET /dashboard/nodes': page(() => get('/dashboard/nodes'), 403),
  'POST /dashboard/node-tokens': form(() => '/dashboard/node-tokens'),
  'POST /dashboard/node-tokens/:tokenId/revoke': form(() => '/dashboard/node-tokens/nt_x/revoke'),
  'POST /dashboard/nodes/:nodeId/evict': form(() => '/dashboard/nodes/nd_x/evict'),
  'POST /dashboard/nodes/:nodeId/drain': form(() => '/dashboard/nodes/nd_x/drain'),
  'ALL /dashboard/tenants': {
    probe: () => ({ method: 'PUT', path: '/dashboard/tenants' }),
    expect: { operatorSession: 403, tenantSession: 403, others: 401 },
  },
  'ALL /dashboard/tenants/*': {
    probe: () => get(`/dashboard/tenants/${tenantId}/no-such-page`),
    expect: { operatorSession: 404, tenantSession: 403, others: 303 },
  },
  'GET /dashboard/tenants': page(() => get('/dashboard/tenants'), 403),
  'POST /dashboard/tenants': form(() => '/dashboard/tenants'),
  'GET /dashboard/tenants/:tenantId': page(() => get(`/dashboard/tenants/${tenantId}`), 403),
  'POST /dashboard/tenants/:tenantId': form(() => `/dashboard/tenants/${tenantId}`),
  'GET /dashboard/audit': page(() => get('/dashboard/audit')),
};

// ---------------------------------------------------------------------------------------------

/** `METHOD path` of every entry in the app's route table, handlers and middleware alike. */
const ROUTES = [...new Set(app.routes.map((route) => `${route.method} ${route.path}`))];

function matches(status: number, expected: Expected): boolean {
  if (expected === '2xx') return status >= 200 && status < 300;
  if (expected === '3xx') return status >= 300 && status < 400;
  return status === expected;
}

describe('the authorization matrix', () => {
  it('has a rule for every route in the app, and no rule for a route that is gone', () => {
    const unruled = ROUTES.filter((route) => !(route in RULES));
    const stale = Object.keys(RULES).filter((route) => !ROUTES.includes(route));
    expect(
      unruled,
      `routes without a rule in test/worker/authz-matrix.test.ts: ${unruled.join(', ')}`,
    ).toEqual([]);
    expect(stale, `rules for routes the app no longer has: ${stale.join(', ')}`).toEqual([]);
  });

  it('answers every route × credential kind as the rules say', { timeout: 120_000 }, async () => {
    const wrong: string[] = [];
    for (const route of ROUTES.filter((r) => r in RULES)) {
      const rule = RULES[route]!;
      for (const kind of KINDS) {
        const expected = rule.expect[kind] ?? rule.expect.others;
        const probe = await rule.probe(kind);
        const headers: Record<string, string> = { ...(await credentialOf(kind, rule)) };
        if (probe.contentType) headers['content-type'] = probe.contentType;
        Object.assign(headers, probe.headers);
        if (probe.method !== 'GET' && probe.method !== 'HEAD' && headers.cookie) {
          // What a browser sends with a same-origin form; only the CSRF token is missing.
          headers.origin = 'https://gateway.test';
          headers['sec-fetch-site'] = 'same-origin';
        }
        const res = await callAndRead(probe.path, {
          method: probe.method,
          headers,
          body: probe.body,
          redirect: 'manual',
        });
        const cell = `${route} (${probe.method} ${probe.path}) as ${kind}`;
        if (!matches(res.status, expected)) {
          wrong.push(`${cell}: ${res.status}, expected ${expected} — ${res.text.slice(0, 160)}`);
        } else if (res.status >= 400 && !probe.path.startsWith('/dashboard')) {
          const problems = probe.path.startsWith('/v1/messages')
            ? anthropicRefusalProblems(res)
            : gatewayRefusalProblems(res);
          if (problems.length > 0) wrong.push(`${cell}: ${problems.join('; ')}`);
        }
        if (res.status === 303 && kind !== 'operatorSession' && kind !== 'tenantSession') {
          // Without a session the dashboard only ever sends the browser to sign in.
          if (!(res.headers.get('location') ?? '').startsWith('/dashboard/sign-in')) {
            wrong.push(`${cell}: redirects to ${res.headers.get('location')}`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
