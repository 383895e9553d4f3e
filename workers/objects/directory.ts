/**
 * The catalog: API keys (metadata only; each key's authoritative record lives in its own
 * ApiKey object) and node tokens. One instance, named `global`. Admin traffic is small, so
 * a single SQL-backed object keeps it queryable for the dashboard.
 */
import { DurableObject } from 'cloudflare:workers';
import { formatCredential, randomToken, sha256Hex } from '../../src/credentials.ts';
import { apiKey } from './stubs.ts';

export interface KeySummary {
  id: string;
  name: string;
  tenant: string;
  createdAt: number;
}

export interface NodeTokenSummary {
  id: string;
  name: string;
  createdAt: number;
}

export class Directory extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`
        CREATE TABLE IF NOT EXISTS api_keys (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, tenant TEXT NOT NULL, created_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS node_tokens (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT NOT NULL, created_at INTEGER NOT NULL);`);
    });
  }

  /** Creates a key; its plaintext is returned once and stored nowhere. */
  async createApiKey(input: { name: string; tenant: string }): Promise<KeySummary & { key: string }> {
    const id = randomToken(8);
    const secret = randomToken(24);
    const createdAt = Date.now();
    await apiKey(this.env, id).initialize({
      keyId: id,
      secretHash: await sha256Hex(secret),
      tenant: input.tenant,
      name: input.name,
      createdAt,
    });
    // Catalogued only after the key's own object holds it, so a listed key always works.
    this.ctx.storage.sql.exec(
      'INSERT INTO api_keys (id, name, tenant, created_at) VALUES (?, ?, ?, ?)',
      id,
      input.name,
      input.tenant,
      createdAt,
    );
    return {
      id,
      name: input.name,
      tenant: input.tenant,
      createdAt,
      key: formatCredential('apiKey', id, secret),
    };
  }

  async createNodeToken(input: { name: string }): Promise<NodeTokenSummary & { token: string }> {
    const id = randomToken(8);
    const secret = randomToken(24);
    const createdAt = Date.now();
    this.ctx.storage.sql.exec(
      'INSERT INTO node_tokens (id, name, secret_hash, created_at) VALUES (?, ?, ?, ?)',
      id,
      input.name,
      await sha256Hex(secret),
      createdAt,
    );
    return { id, name: input.name, createdAt, token: formatCredential('nodeToken', id, secret) };
  }

  verifyNodeToken(id: string, secretHash: string): boolean {
    const row = this.ctx.storage.sql
      .exec<{ secret_hash: string }>('SELECT secret_hash FROM node_tokens WHERE id = ?', id)
      .toArray()[0];
    return row !== undefined && row.secret_hash === secretHash;
  }
}
