/**
 * The catalogue, one instance named `global`: tenants, the index of API keys by tenant (each
 * key's authoritative record lives in its own ApiKey object), node tokens, and the audit log.
 * Admin traffic is small, so one SQL-backed object keeps all of it queryable.
 */
import { DurableObject } from 'cloudflare:workers';
import { digestsEqual, formatCredential, randomToken, sha256Hex, signedId } from '../../src/credentials.ts';
import type { KeyKind, KeyRecord, KeyView, TenantDefaults } from '../../src/keys/key-record.ts';
import type { Limits } from '../../src/limits/limits.ts';
import type { NodeScope } from '../../src/nodes/node-scope.ts';
import { apiKey } from './stubs.ts';

export interface Tenant {
  id: string;
  object: 'tenant';
  name: string;
  defaults: TenantDefaults;
  createdAt: number;
}

export interface NewKey {
  name: string;
  kind: KeyKind;
  models: string[] | null;
  limits: Limits;
  expiresAt: number | null;
}

export interface NodeTokenSummary extends NodeScope {
  id: string;
  object: 'node_token';
  name: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  tenantId: string | null;
  action: string;
  target: string;
  details: unknown;
}

/** 32 random bytes: the secret part of every credential made here. */
const SECRET_BYTES = 32;

export class Directory extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`
        CREATE TABLE IF NOT EXISTS tenants (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, defaults TEXT NOT NULL, created_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS keys (
          id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, created_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS keys_by_tenant ON keys (tenant_id);
        CREATE TABLE IF NOT EXISTS node_tokens (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT NOT NULL, created_at INTEGER NOT NULL,
          revoked_at INTEGER);
        CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS audit (
          id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, tenant_id TEXT,
          action TEXT NOT NULL, target TEXT NOT NULL, details TEXT NOT NULL);`);
      // Node tokens made before they could be revoked lack the column.
      const columns = ctx.storage.sql.exec<{ name: string }>('PRAGMA table_info(node_tokens)').toArray();
      if (!columns.some((c) => c.name === 'revoked_at')) {
        ctx.storage.sql.exec('ALTER TABLE node_tokens ADD COLUMN revoked_at INTEGER');
      }
      if (!columns.some((c) => c.name === 'scope')) {
        ctx.storage.sql.exec('ALTER TABLE node_tokens ADD COLUMN scope TEXT');
      }
    });
  }

  createTenant(input: { name: string; defaults: TenantDefaults }): Tenant {
    const tenant: Tenant = {
      id: `tn_${randomToken(8)}`,
      object: 'tenant',
      name: input.name,
      defaults: input.defaults,
      createdAt: Date.now(),
    };
    this.ctx.storage.sql.exec(
      'INSERT INTO tenants (id, name, defaults, created_at) VALUES (?, ?, ?, ?)',
      tenant.id,
      tenant.name,
      JSON.stringify(tenant.defaults),
      tenant.createdAt,
    );
    return tenant;
  }

  listTenants(): Tenant[] {
    return this.ctx.storage.sql
      .exec<TenantRow>('SELECT * FROM tenants ORDER BY created_at')
      .toArray()
      .map(toTenant);
  }

  getTenant(id: string): Tenant | null {
    const row = this.ctx.storage.sql.exec<TenantRow>('SELECT * FROM tenants WHERE id = ?', id).toArray()[0];
    return row ? toTenant(row) : null;
  }

  /** New name or defaults; defaults reach every key of the tenant before this returns. */
  async updateTenant(
    id: string,
    patch: { name?: string; defaults?: TenantDefaults },
  ): Promise<Tenant | null> {
    const tenant = this.getTenant(id);
    if (!tenant) return null;
    const updated = { ...tenant, ...patch };
    this.ctx.storage.sql.exec(
      'UPDATE tenants SET name = ?, defaults = ? WHERE id = ?',
      updated.name,
      JSON.stringify(updated.defaults),
      id,
    );
    if (patch.defaults) {
      await Promise.all(
        this.keyIds(id).map((keyId) => apiKey(this.env, keyId).setTenantDefaults(updated.defaults)),
      );
    }
    return updated;
  }

  /**
   * Forgets the tenant, then revokes every key it had. The row goes first, in the same step as
   * the key list is read: a key being created meanwhile either is in that list or finds its
   * tenant gone and is revoked by `createKey`.
   */
  async deleteTenant(id: string): Promise<boolean> {
    if (!this.getTenant(id)) return false;
    this.ctx.storage.sql.exec('DELETE FROM tenants WHERE id = ?', id);
    await Promise.all(this.keyIds(id).map((keyId) => apiKey(this.env, keyId).revoke()));
    return true;
  }

  /** Creates a key; the full key is returned once and stored nowhere, only its hash. */
  async createKey(tenantId: string, input: NewKey): Promise<{ view: KeyView; key: string } | null> {
    const tenant = this.getTenant(tenantId);
    if (!tenant) return null;
    const keyId = await signedId(this.keyIdSecret());
    const secret = randomToken(SECRET_BYTES);
    const record: KeyRecord = {
      keyId,
      tenantId,
      ...input,
      secretHash: await sha256Hex(secret),
      previousSecretHash: null,
      previousValidUntil: null,
      createdAt: Date.now(),
      revokedAt: null,
      lastUsedAt: null,
    };
    const stub = apiKey(this.env, keyId);
    let view = await stub.initialize(record, tenant.defaults);
    // Indexed only after the key's own object holds it, so a listed key always exists. From the
    // same step on, tenant changes reach it; a change made while `initialize` was out is applied
    // here, so the key never keeps defaults (or a tenant) that no longer exist.
    this.ctx.storage.sql.exec(
      'INSERT INTO keys (id, tenant_id, created_at) VALUES (?, ?, ?)',
      keyId,
      tenantId,
      record.createdAt,
    );
    const now = this.getTenant(tenantId);
    if (!now) view = await stub.revoke();
    else if (JSON.stringify(now.defaults) !== JSON.stringify(tenant.defaults)) {
      await stub.setTenantDefaults(now.defaults);
      view = (await stub.describe()) ?? view;
    }
    return { view, key: formatCredential('apiKey', keyId, secret) };
  }

  /** The gateway's secret for signing key ids, made on first use; never leaves the gateway. */
  keyIdSecret(): string {
    const row = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM secrets WHERE name = 'key_id'")
      .toArray()[0];
    if (row) return row.value;
    const value = randomToken(32);
    this.ctx.storage.sql.exec("INSERT INTO secrets (name, value) VALUES ('key_id', ?)", value);
    return value;
  }

  /** The tenant a key belongs to, or null for a key this gateway never made. */
  keyTenant(keyId: string): string | null {
    const row = this.ctx.storage.sql
      .exec<{ tenant_id: string }>('SELECT tenant_id FROM keys WHERE id = ?', keyId)
      .toArray()[0];
    return row?.tenant_id ?? null;
  }

  keyIds(tenantId: string): string[] {
    return this.ctx.storage.sql
      .exec<{ id: string }>('SELECT id FROM keys WHERE tenant_id = ? ORDER BY created_at', tenantId)
      .toArray()
      .map((row) => row.id);
  }

  async createNodeToken(input: {
    name: string;
    scope: NodeScope;
  }): Promise<{ summary: NodeTokenSummary; token: string }> {
    const id = randomToken(8);
    const secret = randomToken(SECRET_BYTES);
    const summary: NodeTokenSummary = {
      id,
      object: 'node_token',
      name: input.name,
      ...input.scope,
      createdAt: Date.now(),
      revokedAt: null,
    };
    this.ctx.storage.sql.exec(
      'INSERT INTO node_tokens (id, name, secret_hash, created_at, scope) VALUES (?, ?, ?, ?, ?)',
      id,
      input.name,
      await sha256Hex(secret),
      summary.createdAt,
      JSON.stringify(input.scope),
    );
    return { summary, token: formatCredential('nodeToken', id, secret) };
  }

  listNodeTokens(): NodeTokenSummary[] {
    return this.ctx.storage.sql
      .exec<{
        id: string;
        name: string;
        created_at: number;
        revoked_at: number | null;
        scope: string | null;
      }>('SELECT id, name, created_at, revoked_at, scope FROM node_tokens ORDER BY created_at')
      .toArray()
      .map((r) => ({
        id: r.id,
        object: 'node_token',
        name: r.name,
        ...scopeOf(r.scope),
        createdAt: r.created_at,
        revokedAt: r.revoked_at,
      }));
  }

  /** A revoked token registers nothing new; nodes registered with it keep their credential. */
  revokeNodeToken(id: string): boolean {
    const rows = this.ctx.storage.sql
      .exec(
        'UPDATE node_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING id',
        Date.now(),
        id,
      )
      .toArray();
    return rows.length > 0 || this.listNodeTokens().some((t) => t.id === id);
  }

  /** The scope of a live node token whose secret hashes to `secretHash`, or null. */
  verifyNodeToken(id: string, secretHash: string): NodeScope | null {
    const row = this.ctx.storage.sql
      .exec<{ secret_hash: string; scope: string | null }>(
        'SELECT secret_hash, scope FROM node_tokens WHERE id = ? AND revoked_at IS NULL',
        id,
      )
      .toArray()[0];
    return row !== undefined && digestsEqual(row.secret_hash, secretHash) ? scopeOf(row.scope) : null;
  }

  audit(entry: Omit<AuditEntry, 'id' | 'at'>): void {
    this.ctx.storage.sql.exec(
      'INSERT INTO audit (at, actor, tenant_id, action, target, details) VALUES (?, ?, ?, ?, ?, ?)',
      Date.now(),
      entry.actor,
      entry.tenantId,
      entry.action,
      entry.target,
      JSON.stringify(entry.details ?? null),
    );
  }

  /** Newest first; a tenant admin sees only its tenant's entries. */
  listAudit(query: { tenantId?: string; limit: number }): AuditEntry[] {
    const where = query.tenantId ? 'WHERE tenant_id = ?' : '';
    const params = query.tenantId ? [query.tenantId, query.limit] : [query.limit];
    return this.ctx.storage.sql
      .exec<{
        id: number;
        at: number;
        actor: string;
        tenant_id: string | null;
        action: string;
        target: string;
        details: string;
      }>(`SELECT * FROM audit ${where} ORDER BY id DESC LIMIT ?`, ...params)
      .toArray()
      .map((r) => ({
        id: r.id,
        at: r.at,
        actor: r.actor,
        tenantId: r.tenant_id,
        action: r.action,
        target: r.target,
        details: JSON.parse(r.details) as unknown,
      }));
  }

  /**
   * Marks a dashboard sign-in link used: true the first time only, so the link `npm start` prints
   * signs in once. A used link is forgotten once it would have expired anyway.
   */
  redeemSignInLink(nonce: string, expiresAt: number): boolean {
    const sql = this.ctx.storage.sql;
    sql.exec(
      'CREATE TABLE IF NOT EXISTS sign_in_links (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)',
    );
    sql.exec('DELETE FROM sign_in_links WHERE expires_at < ?', Date.now());
    const inserted = sql
      .exec(
        'INSERT INTO sign_in_links (nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING nonce',
        nonce,
        expiresAt,
      )
      .toArray();
    return inserted.length === 1;
  }
}

/**
 * A token made before tokens carried a scope serves nothing: its nodes must be enrolled again
 * with a token that says what they may serve.
 */
function scopeOf(stored: string | null): NodeScope {
  return stored ? (JSON.parse(stored) as NodeScope) : { owner: 'operator', models: [] };
}

type TenantRow = {
  id: string;
  name: string;
  defaults: string;
  created_at: number;
};

function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id,
    object: 'tenant',
    name: row.name,
    defaults: JSON.parse(row.defaults) as TenantDefaults,
    createdAt: row.created_at,
  };
}
