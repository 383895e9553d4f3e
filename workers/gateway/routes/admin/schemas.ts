/**
 * The admin API's request shapes, beside the routes that read them and the OpenAPI document
 * built from them. Strict objects: an unknown field is a 400 naming it, not silently ignored.
 */
import * as z from '../../../../src/zod-mini.ts';
import { KEY_KINDS, MAX_ROTATION_GRACE_MS, TenantDefaultsSchema } from '../../../../src/keys/key-record.ts';
import { ModelPatternSchema } from '../../../../src/keys/model-patterns.ts';
import { LimitsSchema } from '../../../../src/limits/limits.ts';
import { NodeScopeSchema } from '../../../../src/nodes/node-scope.ts';
import { GRANULARITY_MS } from '../../../../src/usage/rollup.ts';

export const MAX_ADMIN_BODY_BYTES = 64 * 1024;

const label = z.string().check(z.trim(), z.minLength(1), z.maxLength(128));
const models = z.array(ModelPatternSchema).check(z.maxLength(1000));

/** An instant as epoch milliseconds or an ISO 8601 date-time; must be in the future. */
const futureInstant = z
  .pipe(
    z.union([z.int().check(z.positive()), z.iso.datetime({ offset: true })]),
    z.transform((value) => (typeof value === 'number' ? value : Date.parse(value))),
  )
  .check(z.refine((at) => at > Date.now(), 'must be in the future'));

export const CreateTenantSchema = z.strictObject({
  name: label,
  defaults: z._default(TenantDefaultsSchema, {}),
});
export const PatchTenantSchema = z.strictObject({
  name: z.optional(label),
  defaults: z.optional(TenantDefaultsSchema),
});

export const CreateKeySchema = z.strictObject({
  name: label,
  kind: z._default(z.enum(KEY_KINDS), 'api'),
  /** Null or absent: the tenant's default models. */
  models: z._default(z.nullable(models), null),
  limits: z._default(LimitsSchema, {}),
  expiresAt: z._default(z.nullable(futureInstant), null),
});

export const PatchKeySchema = z.strictObject({
  name: z.optional(label),
  models: z.optional(z.nullable(models)),
  limits: z.optional(LimitsSchema),
  expiresAt: z.optional(z.nullable(futureInstant)),
});

export const RotateKeySchema = z.strictObject({
  /** How long the old secret keeps working; 0 (the default) kills it at once. */
  gracePeriodSeconds: z._default(z.int().check(z.gte(0), z.lte(MAX_ROTATION_GRACE_MS / 1000)), 0),
});

export const CreateNodeTokenSchema = z.strictObject({ name: label, ...NodeScopeSchema.shape });

export const UsageQuerySchema = z.strictObject({
  tenantId: z.optional(z.string().check(z.maxLength(64))),
  keyId: z.optional(z.string().check(z.maxLength(64))),
  model: z.optional(z.string().check(z.maxLength(256))),
  from: z.optional(z.coerce.number().check(z.int(), z.nonnegative())),
  to: z.optional(z.coerce.number().check(z.int(), z.positive())),
  granularity: z._default(z.enum(Object.keys(GRANULARITY_MS) as ['minute', 'hour', 'day']), 'hour'),
});

export const AuditQuerySchema = z.strictObject({
  limit: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(1000)), 100),
});
