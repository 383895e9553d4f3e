/**
 * Usage per key and model over time, from the tenants' usage objects: JSON, or CSV with
 * `Accept: text/csv`. The operator may ask across tenants; a tenant admin sees its own.
 */
import { Hono, type Context } from 'hono';
import { bucketStart, GRANULARITY_MS, USAGE_COUNTERS, type UsageRow } from '../../../../src/usage/rollup.ts';
import { validated } from '../../dispatch/read-json.ts';
import type { AppEnv } from '../../config.ts';
import { directory, tenantUsage } from '../../../objects/stubs.ts';
import { AuditQuerySchema, UsageQuerySchema } from './schemas.ts';
import { scopedKeyTenant, scopedTenant } from './scope.ts';

export const usageRoutes = new Hono<AppEnv>();

/** Without `from`, a day back; without `to`, now. */
const DEFAULT_SPAN_MS = 86_400_000;

usageRoutes.get('/usage', async function readUsage(c) {
  const query = validated(UsageQuerySchema, c.req.query());
  const now = Date.now();
  // Whole buckets: the one holding `now` is included, and the default span starts on a bucket.
  const to = query.to ?? bucketStart(now, query.granularity) + GRANULARITY_MS[query.granularity];
  const from = query.from ?? bucketStart(now - DEFAULT_SPAN_MS, query.granularity);
  const tenantIds = await tenantsAsked(c, query.tenantId, query.keyId);
  const perTenant = await Promise.all(
    tenantIds.map(async (tenantId) => {
      const rows = await tenantUsage(c.env, tenantId).queryUsage({ ...query, from, to });
      return rows.map((row) => ({ tenantId, ...row }));
    }),
  );
  const data = perTenant.flat();
  if ((c.req.header('accept') ?? '').includes('text/csv')) {
    c.header('content-disposition', 'attachment; filename="usage.csv"');
    return c.body(toCsv(data), 200, { 'content-type': 'text/csv; charset=utf-8' });
  }
  return c.json({ object: 'list', granularity: query.granularity, from, to, data });
});

usageRoutes.get('/audit', async function readAudit(c) {
  const { limit } = validated(AuditQuerySchema, c.req.query());
  const caller = c.get('admin');
  const tenantId = caller.kind === 'tenant' ? caller.tenantId : undefined;
  return c.json({ object: 'list', data: await directory(c.env).listAudit({ tenantId, limit }) });
});

async function tenantsAsked(c: Context<AppEnv>, tenantId?: string, keyId?: string): Promise<string[]> {
  if (keyId) {
    const owner = await scopedKeyTenant(c, keyId);
    if (tenantId && tenantId !== owner) return [];
    return [owner];
  }
  if (tenantId) return [(await scopedTenant(c, tenantId)).id];
  const caller = c.get('admin');
  if (caller.kind === 'tenant') return [caller.tenantId];
  return (await directory(c.env).listTenants()).map((t) => t.id);
}

function toCsv(rows: Array<UsageRow & { tenantId: string }>): string {
  const columns = ['start', 'tenantId', 'keyId', 'model', ...USAGE_COUNTERS] as const;
  const lines = rows.map((row) =>
    columns
      .map((column) =>
        column === 'start' ? new Date(row.start).toISOString() : csvField(String(row[column])),
      )
      .join(','),
  );
  return [columns.join(','), ...lines].join('\r\n') + '\r\n';
}

/** Quotes a field when it holds a separator, and defuses spreadsheet formulas. */
function csvField(value: string): string {
  const safe = /^[=+\-@]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
