/**
 * Who may touch what in the admin API. A tenant admin sees its own tenant and nothing else:
 * another tenant's objects answer 404, exactly as if they did not exist, so ids cannot be
 * probed. Every change is written to the audit log with who made it.
 */
import type { Context } from 'hono';
import { ApiError } from '../../../../src/openai/errors.ts';
import { directory } from '../../../objects/stubs.ts';
import type { AppEnv } from '../../config.ts';

export function notFound(what: string, id: string): ApiError {
  return new ApiError(404, `No ${what} \`${id}\`.`, { code: `${what.replace(' ', '_')}_not_found` });
}

/** The tenant, when the caller may see it; else 404. */
export async function scopedTenant(c: Context<AppEnv>, tenantId: string) {
  const caller = c.get('admin');
  const tenant =
    caller.kind === 'tenant' && caller.tenantId !== tenantId
      ? null
      : await directory(c.env).getTenant(tenantId);
  if (!tenant) throw notFound('tenant', tenantId);
  return tenant;
}

/** The tenant of a key the caller may see; else 404. */
export async function scopedKeyTenant(c: Context<AppEnv>, keyId: string): Promise<string> {
  const tenantId = await directory(c.env).keyTenant(keyId);
  const caller = c.get('admin');
  if (!tenantId || (caller.kind === 'tenant' && caller.tenantId !== tenantId)) throw notFound('key', keyId);
  return tenantId;
}

export function actorOf(c: Context<AppEnv>): string {
  const caller = c.get('admin');
  return caller.kind === 'operator' ? 'operator' : `key:${caller.keyId}`;
}

export function audit(
  c: Context<AppEnv>,
  entry: { tenantId: string | null; action: string; target: string; details?: unknown },
): Promise<void> {
  return directory(c.env).audit({ actor: actorOf(c), details: null, ...entry });
}
