/**
 * The limits a tenant or an API key can carry: request and token rates over a sliding minute,
 * requests in flight, and token quotas per UTC day and month. Every field is optional: a limit
 * that is not set does not apply.
 */
import * as z from '../zod-mini.ts';

const limit = z.optional(z.int().check(z.positive(), z.lte(1e12)));

export const LimitsSchema = z.strictObject({
  rpm: limit,
  tpm: limit,
  concurrency: limit,
  tokensPerDay: limit,
  tokensPerMonth: limit,
});

export type Limits = z.infer<typeof LimitsSchema>;
export type LimitName = 'rpm' | 'tpm' | 'concurrency' | 'tokensPerDay' | 'tokensPerMonth';

export const LIMIT_NAMES: readonly LimitName[] = [
  'rpm',
  'tpm',
  'concurrency',
  'tokensPerDay',
  'tokensPerMonth',
];

/**
 * Key limits over tenant defaults: a field set on the key wins, else the tenant's. Field by
 * field, so a key that only narrows `rpm` still gets the tenant's token quotas; fields set on
 * neither are left out (not present as `undefined`).
 */
export function effectiveLimits(key: Limits | undefined, tenantDefaults: Limits | undefined): Limits {
  const limits: Limits = {};
  for (const name of LIMIT_NAMES) {
    const value = key?.[name] ?? tenantDefaults?.[name];
    if (value !== undefined) limits[name] = value;
  }
  return limits;
}
