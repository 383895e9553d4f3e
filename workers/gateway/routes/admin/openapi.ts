/**
 * The admin API's OpenAPI 3.1 document, built from the same zod schemas the routes validate
 * with, so it cannot drift from what the routes accept. Served without auth: it holds no data.
 */
import { Hono } from 'hono';
import * as z from '../../../../src/zod-mini.ts';
import type { AppEnv } from '../../config.ts';
import {
  AuditQuerySchema,
  CreateKeySchema,
  CreateNodeTokenSchema,
  CreateTenantSchema,
  PatchKeySchema,
  PatchTenantSchema,
  RotateKeySchema,
  UsageQuerySchema,
} from './schemas.ts';
import { SetPoolPolicySchema } from './pools.ts';

const schema = (s: z.ZodMiniType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });
const body = (s: z.ZodMiniType) => ({
  required: true,
  content: { 'application/json': { schema: schema(s) } },
});
const ok = (description: string) => ({ description, content: { 'application/json': {} } });
const errors = {
  '400': { description: 'Bad input; `error.param` names the field' },
  '401': { description: 'No or wrong admin credential' },
  '403': { description: 'Operator only' },
  '404': { description: 'Not found (or another tenant\u2019s)' },
};
const op = (summary: string, extra: Record<string, unknown> = {}) => ({
  summary,
  responses: { '200': ok(summary), ...errors },
  ...extra,
});
const created = (summary: string, s: z.ZodMiniType) => ({
  summary,
  requestBody: body(s),
  responses: { '201': ok(summary), ...errors },
});
const pathParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });
const usageParams = () =>
  Object.entries(schema(UsageQuerySchema).properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: false,
    schema: s,
  }));

const adminOpenapi = () => ({
  openapi: '3.1.0',
  info: {
    title: 'Switchyard admin API',
    version: '1',
    description:
      'Tenants, API keys, usage, node tokens, nodes. Authorization: Bearer <ADMIN_TOKEN> (operator) or a tenant admin key (its own tenant only).',
  },
  servers: [{ url: '/admin/api' }],
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/tenants': {
      post: created('Create a tenant (operator)', CreateTenantSchema),
      get: op('List tenants'),
    },
    '/tenants/{tenantId}': {
      parameters: [pathParam('tenantId')],
      get: op('Read a tenant'),
      patch: op('Change a tenant’s name or defaults', { requestBody: body(PatchTenantSchema) }),
      delete: op('Delete a tenant and revoke its keys (operator)'),
    },
    '/tenants/{tenantId}/keys': {
      parameters: [pathParam('tenantId')],
      post: created('Create a key; the answer’s `key` is shown this once', CreateKeySchema),
      get: op('List a tenant’s keys (never their secrets)'),
    },
    '/keys/{keyId}': {
      parameters: [pathParam('keyId')],
      get: op('Read a key'),
      patch: op('Change a key’s name, models, limits or expiry', { requestBody: body(PatchKeySchema) }),
      delete: op('Revoke a key: its next request gets 401'),
    },
    '/keys/{keyId}/rotate': {
      parameters: [pathParam('keyId')],
      post: op('New secret for the same key id', { requestBody: body(RotateKeySchema) }),
    },
    '/usage': {
      get: op('Usage per key and model (CSV with Accept: text/csv)', { parameters: usageParams() }),
    },
    '/audit': {
      get: op('Who changed what, newest first', {
        parameters: [
          { name: 'limit', in: 'query', required: false, schema: schema(AuditQuerySchema).properties?.limit },
        ],
      }),
    },
    '/node-tokens': {
      post: created('Create a node token (operator)', CreateNodeTokenSchema),
      get: op('List node tokens (operator)'),
    },
    '/node-tokens/{tokenId}': {
      parameters: [pathParam('tokenId')],
      delete: op('Revoke a node token (operator)'),
    },
    '/nodes': { get: op('List nodes (operator)') },
    '/nodes/{nodeId}': { parameters: [pathParam('nodeId')], delete: op('Evict a node (operator)') },
    '/pools/{model}/policy': {
      parameters: [pathParam('model')],
      get: op('A pool’s routing policy (operator)'),
      put: op('Set a pool’s routing policy; null returns it to ROUTING_POLICY (operator)', {
        requestBody: body(SetPoolPolicySchema),
      }),
    },
    '/pools/{model}': {
      parameters: [pathParam('model')],
      get: op('A model pool’s engines and in-flight counts (operator)'),
    },
  },
});

/**
 * Built at the first request for it rather than when the isolate starts: turning the schemas
 * into JSON Schema is several milliseconds that no other route needs on a cold start.
 */
let openapiDocument: ReturnType<typeof adminOpenapi> | undefined;

export const openapiRoutes = new Hono<AppEnv>();

openapiRoutes.get('/openapi.json', (c) => c.json((openapiDocument ??= adminOpenapi())));
