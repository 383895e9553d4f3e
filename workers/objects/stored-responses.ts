/**
 * Which engine stores each Responses API response, so that retrieving, deleting, cancelling or
 * continuing it (`previous_response_id`) reaches that engine and no other: the response lives
 * only in that engine's memory. One object per shard of the id space (stubs.ts), each holding
 * at most MAX_RECORDS ids, each for STORED_RESPONSE_TTL_HOURS; docs/decisions/0005 says why.
 */
import { DurableObject } from 'cloudflare:workers';
import { gatewayConfig } from '../gateway/config.ts';

export interface StoredResponse {
  responseId: string;
  /** Only this tenant's keys may reach it; another tenant is told it does not exist. */
  tenantId: string;
  model: string;
  /** `<node id>/<engine id>`, as the model's pool names the engine. */
  engineKey: string;
  createdAt: number;
}

/** Ids kept per shard (most recent first); the table is trimmed once it grows 10% past this. */
const MAX_RECORDS = 200_000;

interface Row extends Record<string, SqlStorageValue> {
  response_id: string;
  tenant_id: string;
  model: string;
  engine_key: string;
  created_at: number;
}

export class StoredResponses extends DurableObject<Env> {
  private sinceTrim = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`
        CREATE TABLE IF NOT EXISTS responses (response_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL,
          model TEXT NOT NULL, engine_key TEXT NOT NULL, created_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS responses_by_age ON responses (created_at);`);
    });
  }

  async remember(record: StoredResponse): Promise<void> {
    this.ctx.storage.sql.exec(
      'INSERT OR REPLACE INTO responses (response_id, tenant_id, model, engine_key, created_at) VALUES (?, ?, ?, ?, ?)',
      record.responseId,
      record.tenantId,
      record.model,
      record.engineKey,
      record.createdAt,
    );
    if (++this.sinceTrim > MAX_RECORDS / 10) this.trim();
    if ((await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(record.createdAt + this.ttlMs());
    }
  }

  /** The record, unless it is unknown or expired. */
  lookup(responseId: string): StoredResponse | null {
    const row = this.ctx.storage.sql
      .exec<Row>(
        'SELECT * FROM responses WHERE response_id = ? AND created_at > ?',
        responseId,
        this.cutoff(),
      )
      .toArray()[0];
    return row
      ? {
          responseId: row.response_id,
          tenantId: row.tenant_id,
          model: row.model,
          engineKey: row.engine_key,
          createdAt: row.created_at,
        }
      : null;
  }

  /** The engine deleted it: nothing is left to route to. */
  forget(responseId: string): boolean {
    return (
      this.ctx.storage.sql
        .exec('DELETE FROM responses WHERE response_id = ? RETURNING 1', responseId)
        .toArray().length > 0
    );
  }

  /** Drops expired ids, then wakes again when the oldest one left expires. */
  override async alarm(): Promise<void> {
    this.ctx.storage.sql.exec('DELETE FROM responses WHERE created_at <= ?', this.cutoff());
    this.trim();
    const oldest = this.ctx.storage.sql
      .exec<{ created_at: number }>('SELECT created_at FROM responses ORDER BY created_at LIMIT 1')
      .toArray()[0];
    if (oldest) await this.ctx.storage.setAlarm(oldest.created_at + this.ttlMs());
  }

  private trim(): void {
    this.sinceTrim = 0;
    this.ctx.storage.sql.exec(
      `DELETE FROM responses WHERE response_id NOT IN
         (SELECT response_id FROM responses ORDER BY created_at DESC LIMIT ?)`,
      MAX_RECORDS,
    );
  }

  private ttlMs(): number {
    return gatewayConfig(this.env).storedResponseTtlMs;
  }

  private cutoff(): number {
    return Date.now() - this.ttlMs();
  }
}
