/**
 * The admin API's request shapes, beside the routes that read them and the OpenAPI document
 * built from them. Strict objects: an unknown field is a 400 naming it, not silently ignored.
 */
import { z } from 'zod';
import { KEY_KINDS, MAX_ROTATION_GRACE_MS, TenantDefaultsSchema } from '../../../../src/keys/key-record.ts';
import { ModelPatternSchema } from '../../../../src/keys/model-patterns.ts';
import { LimitsSchema } from '../../../../src/limits/limits.ts';
import { NodeScopeSchema } from '../../../../src/nodes/node-scope.ts';
import { GRANULARITY_MS } from '../../../../src/usage/rollup.ts';

export const MAX_ADMIN_BODY_BYTES = 64 * 1024;

const label = z.string().trim().min(1).max(128);
const models = z.array(ModelPatternSchema).max(1000);

/** An instant as epoch milliseconds or an ISO 8601 date-time; must be in the future. */
const futureInstant = z
  .union([z.number().int().positive(), z.iso.datetime({ offset: true })])
  .transform((value) => (typeof value === 'number' ? value : Date.parse(value)))
  .refine((at) => at > Date.now(), 'must be in the future');

export const CreateTenantSchema = z.strictObject({ name: label, defaults: TenantDefaultsSchema.default({}) });
export const PatchTenantSchema = z.strictObject({
  name: label.optional(),
  defaults: TenantDefaultsSchema.optional(),
});

export const CreateKeySchema = z.strictObject({
  name: label,
  kind: z.enum(KEY_KINDS).default('api'),
  /** Null or absent: the tenant's default models. */
  models: models.nullable().default(null),
  limits: LimitsSchema.default({}),
  expiresAt: futureInstant.nullable().default(null),
});

export const PatchKeySchema = z.strictObject({
  name: label.optional(),
  models: models.nullable().optional(),
  limits: LimitsSchema.optional(),
  expiresAt: futureInstant.nullable().optional(),
});

export const RotateKeySchema = z.strictObject({
  /** How long the old secret keeps working; 0 (the default) kills it at once. */
  gracePeriodSeconds: z
    .number()
    .int()
    .min(0)
    .max(MAX_ROTATION_GRACE_MS / 1000)
    .default(0),
});

export const CreateNodeTokenSchema = z.strictObject({ name: label, ...NodeScopeSchema.shape });

export const UsageQuerySchema = z.strictObject({
  tenantId: z.string().max(64).optional(),
  keyId: z.string().max(64).optional(),
  model: z.string().max(256).optional(),
  from: z.coerce.number().int().nonnegative().optional(),
  to: z.coerce.number().int().positive().optional(),
  granularity: z.enum(Object.keys(GRANULARITY_MS) as ['minute', 'hour', 'day']).default('hour'),
});

export const AuditQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
