/**
 * One API key's authoritative record, one object per key id. Every /v1 request asks this
 * object (one RPC) whether the key may proceed, so a change made here holds at once,
 * everywhere.
 */
import { DurableObject } from 'cloudflare:workers';

export interface KeyRecord {
  keyId: string;
  secretHash: string;
  tenant: string;
  name: string;
  createdAt: number;
  revokedAt: number | null;
}

export type Admission =
  { ok: true; keyId: string; tenant: string } | { ok: false; reason: 'invalid_key' | 'revoked_key' };

export class ApiKey extends DurableObject<Env> {
  private record: KeyRecord | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS key_record (
        key_id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, tenant TEXT NOT NULL, name TEXT NOT NULL,
        created_at INTEGER NOT NULL, revoked_at INTEGER)`);
      this.record = this.loadRecord();
    });
  }

  /** Stores the key's record; called once by the Directory when the key is created. */
  initialize(record: Omit<KeyRecord, 'revokedAt'>): void {
    if (this.record) throw new Error(`key ${record.keyId} already exists`);
    this.ctx.storage.sql.exec(
      'INSERT INTO key_record (key_id, secret_hash, tenant, name, created_at) VALUES (?, ?, ?, ?, ?)',
      record.keyId,
      record.secretHash,
      record.tenant,
      record.name,
      record.createdAt,
    );
    this.record = { ...record, revokedAt: null };
  }

  /** Authenticates by secret hash; the one call on every request's path. */
  admitRequest(secretHash: string): Admission {
    const record = this.record;
    if (!record || record.secretHash !== secretHash) return { ok: false, reason: 'invalid_key' };
    if (record.revokedAt !== null) return { ok: false, reason: 'revoked_key' };
    return { ok: true, keyId: record.keyId, tenant: record.tenant };
  }

  private loadRecord(): KeyRecord | null {
    const row = this.ctx.storage.sql
      .exec<{
        key_id: string;
        secret_hash: string;
        tenant: string;
        name: string;
        created_at: number;
        revoked_at: number | null;
      }>('SELECT * FROM key_record LIMIT 1')
      .toArray()[0];
    if (!row) return null;
    return {
      keyId: row.key_id,
      secretHash: row.secret_hash,
      tenant: row.tenant,
      name: row.name,
      createdAt: row.created_at,
      revokedAt: row.revoked_at,
    };
  }
}
