/**
 * An API key's record and the rules read from it on every request: is it usable now (not
 * revoked, not expired), does a presented secret match (the current one, or the previous one
 * during a rotation's grace period), which models and limits apply (the key's own, else its
 * tenant's defaults). Pure, so the ApiKey Durable Object only stores and calls.
 */
import * as z from '../zod-mini.ts';
import { digestsEqual } from '../credentials.ts';
import { effectiveLimits, LimitsSchema, type Limits } from '../limits/limits.ts';
import { NodeOwnerSchema } from '../nodes/node-scope.ts';
import { modelAllowed, ModelPatternSchema } from './model-patterns.ts';

export const KEY_KINDS = ['api', 'admin'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];
export type KeyStatus = 'active' | 'revoked' | 'expired';

/** The longest grace a rotation may leave the old secret working. */
export const MAX_ROTATION_GRACE_MS = 24 * 60 * 60 * 1000;

export const TenantDefaultsSchema = z.strictObject({
  limits: z.optional(LimitsSchema),
  models: z.optional(z.array(ModelPatternSchema).check(z.maxLength(1000))),
  /**
   * The node owners whose engines may serve this tenant's calls (their node tokens' `owner`);
   * absent, any owner's. A tenant whose prompts must stay with its own or audited hardware.
   */
  trustedOwners: z.optional(z.array(NodeOwnerSchema).check(z.minLength(1), z.maxLength(100))),
});
export type TenantDefaults = z.infer<typeof TenantDefaultsSchema>;

export interface KeyRecord {
  keyId: string;
  tenantId: string;
  name: string;
  kind: KeyKind;
  secretHash: string;
  /** The secret before the last rotation, accepted until `previousValidUntil`. */
  previousSecretHash: string | null;
  previousValidUntil: number | null;
  /** Null: the tenant's default models (and with none, every model). */
  models: string[] | null;
  limits: Limits;
  expiresAt: number | null;
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** A key as the admin API shows it: never its secret or hash. */
export interface KeyView {
  id: string;
  object: 'api_key';
  tenantId: string;
  name: string;
  kind: KeyKind;
  status: KeyStatus;
  models: string[] | null;
  limits: Limits;
  effectiveModels: string[] | null;
  effectiveLimits: Limits;
  expiresAt: number | null;
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export function keyStatus(record: KeyRecord, now: number): KeyStatus {
  if (record.revokedAt !== null) return 'revoked';
  if (record.expiresAt !== null && now >= record.expiresAt) return 'expired';
  return 'active';
}

export function secretAccepted(record: KeyRecord, secretHash: string, now: number): boolean {
  const current = digestsEqual(record.secretHash, secretHash);
  const previous =
    record.previousSecretHash !== null &&
    record.previousValidUntil !== null &&
    now < record.previousValidUntil &&
    digestsEqual(record.previousSecretHash, secretHash);
  return current || previous;
}

export function keyModels(record: KeyRecord, tenant: TenantDefaults): string[] | null {
  return record.models ?? tenant.models ?? null;
}

export function keyAllowsModel(record: KeyRecord, tenant: TenantDefaults, model: string): boolean {
  return modelAllowed(keyModels(record, tenant), model);
}

export function keyLimits(record: KeyRecord, tenant: TenantDefaults): Limits {
  return effectiveLimits(record.limits, tenant.limits);
}

export function keyView(record: KeyRecord, tenant: TenantDefaults, now: number): KeyView {
  return {
    id: record.keyId,
    object: 'api_key',
    tenantId: record.tenantId,
    name: record.name,
    kind: record.kind,
    status: keyStatus(record, now),
    models: record.models,
    limits: record.limits,
    effectiveModels: keyModels(record, tenant),
    effectiveLimits: keyLimits(record, tenant),
    expiresAt: record.expiresAt,
    createdAt: record.createdAt,
    revokedAt: record.revokedAt,
    lastUsedAt: record.lastUsedAt,
  };
}
