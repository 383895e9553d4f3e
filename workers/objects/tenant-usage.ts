/**
 * One tenant's usage, per minute, key and model, fed in batches by its keys' objects (never a
 * write per request) and read by the admin API at minute, hour or day granularity. Rows older
 * than USAGE_RETENTION_DAYS are dropped by alarm.
 */
import { DurableObject } from 'cloudflare:workers';
import { GRANULARITY_MS, USAGE_COUNTERS, type Granularity, type UsageRow } from '../../src/usage/rollup.ts';
import { gatewayConfig } from '../gateway/config.ts';

export interface UsageQuery {
  from: number;
  to: number;
  granularity: Granularity;
  keyId?: string;
  model?: string;
}

const DAY_MS = 86_400_000;
const COLUMNS = USAGE_COUNTERS.map((name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));

export class TenantUsage extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS usage (
        start INTEGER NOT NULL, key_id TEXT NOT NULL, model TEXT NOT NULL,
        ${COLUMNS.map((c) => `${c} INTEGER NOT NULL DEFAULT 0`).join(', ')},
        PRIMARY KEY (start, key_id, model))`);
    });
  }

  /** Adds a batch of minute rows (rows for the same minute, key and model add up). */
  async recordUsage(rows: UsageRow[]): Promise<void> {
    const placeholders = COLUMNS.map(() => '?').join(', ');
    const updates = COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ');
    for (const row of rows) {
      this.ctx.storage.sql.exec(
        `INSERT INTO usage (start, key_id, model, ${COLUMNS.join(', ')}) VALUES (?, ?, ?, ${placeholders})
         ON CONFLICT (start, key_id, model) DO UPDATE SET ${updates}`,
        row.start,
        row.keyId,
        row.model,
        ...USAGE_COUNTERS.map((name) => row[name]),
      );
    }
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + DAY_MS);
  }

  /** Sums rows into buckets of the granularity, per key and model, oldest first. */
  queryUsage(query: UsageQuery): UsageRow[] {
    const size = GRANULARITY_MS[query.granularity];
    const filters = ['start >= ?', 'start < ?'];
    const params: Array<string | number> = [query.from, query.to];
    if (query.keyId) filters.push('key_id = ?') && params.push(query.keyId);
    if (query.model) filters.push('model = ?') && params.push(query.model);
    const sums = COLUMNS.map((c, i) => `SUM(${c}) AS ${USAGE_COUNTERS[i]}`).join(', ');
    return this.ctx.storage.sql
      .exec<Record<string, number | string>>(
        `SELECT (start / ${size}) * ${size} AS bucket, key_id, model, ${sums} FROM usage
         WHERE ${filters.join(' AND ')} GROUP BY bucket, key_id, model ORDER BY bucket, key_id, model`,
        ...params,
      )
      .toArray()
      .map((r) => {
        const row = { start: Number(r.bucket), keyId: String(r.key_id), model: String(r.model) } as UsageRow;
        for (const name of USAGE_COUNTERS) row[name] = Number(r[name] ?? 0);
        return row;
      });
  }

  override async alarm(): Promise<void> {
    const cutoff = Date.now() - gatewayConfig(this.env).usageRetentionDays * DAY_MS;
    this.ctx.storage.sql.exec('DELETE FROM usage WHERE start < ?', cutoff);
    const left = this.ctx.storage.sql.exec('SELECT 1 FROM usage LIMIT 1').toArray().length > 0;
    if (left) await this.ctx.storage.setAlarm(Date.now() + DAY_MS);
  }
}
