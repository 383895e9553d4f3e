/**
 * One object per served model name: the engines serving it, their last reported load, the
 * leases handed out, and session affinity. Every edge location asks the same object, so the
 * in-flight count per engine is exact: a lease is counted from `pick` to `release`, and the
 * lease table survives the object's eviction.
 *
 * The policy here is least-loaded with sticky sessions; the routing issue builds the real
 * policies behind the same `pick`/`release` interface.
 */
import { DurableObject } from 'cloudflare:workers';
import { gatewayConfig } from '../gateway/config.ts';
import { leastLoaded, type Candidate } from '../../src/routing/least-loaded.ts';

/** An engine as the registry pushes it to the pool. */
export interface PoolEngine {
  nodeId: string;
  engineId: string;
  url: string;
  credential: string;
  /** Node healthy, not draining, engine ready. */
  available: boolean;
  running: number;
  waiting: number;
  kvCacheUsage: number;
  maxConcurrency: number;
}

export interface Lease {
  leaseId: string;
  engineKey: string;
  nodeId: string;
  engineId: string;
  url: string;
  credential: string;
}

export type PickResult =
  | { ok: true; lease: Lease }
  | {
      ok: false;
      reason: 'unknown_model' | 'no_available_engine' | 'engines_saturated';
      retryAfterSeconds: number;
    };

export type LeaseOutcome = 'ok' | 'failed' | 'aborted';

export interface EngineView extends PoolEngine {
  engineKey: string;
  inflight: number;
  leasesSinceReport: number;
}

/** A lease older than this belongs to a Worker invocation that died without releasing it. */
const LEASE_MAX_AGE_MS = 60 * 60 * 1000;
const REAP_EVERY_MS = 5 * 60 * 1000;
const MAX_SESSIONS = 100_000;

function engineKeyOf(nodeId: string, engineId: string): string {
  return `${nodeId}/${engineId}`;
}

export class ModelPool extends DurableObject<Env> {
  private engines = new Map<string, EngineView>();
  private reapScheduled = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`
        CREATE TABLE IF NOT EXISTS engines (engine_key TEXT PRIMARY KEY, node_id TEXT NOT NULL, data TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS leases (lease_id TEXT PRIMARY KEY, engine_key TEXT NOT NULL, created_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS sessions (session_key TEXT PRIMARY KEY, engine_key TEXT NOT NULL, used_at INTEGER NOT NULL);`);
      this.loadState();
      this.reapScheduled = (await ctx.storage.getAlarm()) !== null;
    });
  }

  /** Replaces what this pool knows of one node's engines (called by the registry on every report). */
  syncNode(nodeId: string, engines: PoolEngine[]): void {
    const incoming = new Map(engines.map((e) => [engineKeyOf(nodeId, e.engineId), e]));
    for (const [key, engine] of this.engines) {
      if (engine.nodeId === nodeId && !incoming.has(key)) this.dropEngine(key);
    }
    for (const [key, engine] of incoming) {
      const inflight = this.engines.get(key)?.inflight ?? 0;
      this.engines.set(key, { ...engine, engineKey: key, inflight, leasesSinceReport: 0 });
      this.ctx.storage.sql.exec(
        'INSERT OR REPLACE INTO engines (engine_key, node_id, data) VALUES (?, ?, ?)',
        key,
        nodeId,
        JSON.stringify(engine),
      );
    }
  }

  removeNode(nodeId: string): void {
    this.syncNode(nodeId, []);
  }

  /** `leaseId` is the caller's, so it can release the lease before this call has answered. */
  async pick(request: { leaseId: string; affinityKey?: string; exclude?: string[] }): Promise<PickResult> {
    if (this.engines.size === 0) return { ok: false, reason: 'unknown_model', retryAfterSeconds: 0 };
    const exclude = new Set(request.exclude ?? []);
    const config = gatewayConfig(this.env);
    const available = [...this.engines.values()].filter((e) => e.available && !exclude.has(e.engineKey));
    if (available.length === 0) {
      // By the next heartbeat an engine may have become ready.
      const retryAfterSeconds = Math.max(1, Math.ceil(config.heartbeatIntervalMs / 1000));
      return { ok: false, reason: 'no_available_engine', retryAfterSeconds };
    }
    // Past its cap an engine's queue only adds latency; a client told to retry can go elsewhere.
    const candidates: Candidate[] = available.filter(
      (e) => e.inflight < e.maxConcurrency * config.engineOvercommit,
    );
    const sticky = request.affinityKey ? this.sessionEngine(request.affinityKey) : undefined;
    const chosen = candidates.find((e) => e.engineKey === sticky) ?? leastLoaded(candidates);
    if (!chosen) return { ok: false, reason: 'engines_saturated', retryAfterSeconds: 1 };
    if (request.affinityKey) this.rememberSession(request.affinityKey, chosen.engineKey);
    return { ok: true, lease: await this.grantLease(request.leaseId, chosen.engineKey) };
  }

  /** Returns a lease. Idempotent: a second release of the same lease changes nothing. */
  // The outcome is for the circuit breaker (issue #12); today only the in-flight count changes.
  release(leaseId: string, _outcome: LeaseOutcome): boolean {
    const row = this.ctx.storage.sql
      .exec<{ engine_key: string }>('DELETE FROM leases WHERE lease_id = ? RETURNING engine_key', leaseId)
      .toArray()[0];
    if (!row) return false;
    const engine = this.engines.get(row.engine_key);
    if (engine) engine.inflight = Math.max(0, engine.inflight - 1);
    return true;
  }

  /** What the pool holds right now, for the admin API and tests (credentials left out). */
  snapshot(): Omit<EngineView, 'credential'>[] {
    return [...this.engines.values()].map(({ credential: _secret, ...view }) => view);
  }

  override async alarm(): Promise<void> {
    const cutoff = Date.now() - LEASE_MAX_AGE_MS;
    this.ctx.storage.sql.exec('DELETE FROM leases WHERE created_at < ?', cutoff);
    this.ctx.storage.sql.exec(
      `DELETE FROM sessions WHERE session_key NOT IN
         (SELECT session_key FROM sessions ORDER BY used_at DESC LIMIT ?)`,
      MAX_SESSIONS,
    );
    this.recountInflight();
    const leasesLeft = this.ctx.storage.sql.exec('SELECT 1 FROM leases LIMIT 1').toArray().length > 0;
    this.reapScheduled = leasesLeft;
    if (leasesLeft) await this.ctx.storage.setAlarm(Date.now() + REAP_EVERY_MS);
  }

  private async grantLease(leaseId: string, engineKey: string): Promise<Lease> {
    const engine = this.engines.get(engineKey)!;
    this.ctx.storage.sql.exec(
      'INSERT INTO leases (lease_id, engine_key, created_at) VALUES (?, ?, ?)',
      leaseId,
      engineKey,
      Date.now(),
    );
    engine.inflight += 1;
    engine.leasesSinceReport += 1;
    if (!this.reapScheduled) {
      this.reapScheduled = true;
      await this.ctx.storage.setAlarm(Date.now() + REAP_EVERY_MS);
    }
    const { nodeId, engineId, url, credential } = engine;
    return { leaseId, engineKey, nodeId, engineId, url, credential };
  }

  private sessionEngine(sessionKey: string): string | undefined {
    return this.ctx.storage.sql
      .exec<{ engine_key: string }>('SELECT engine_key FROM sessions WHERE session_key = ?', sessionKey)
      .toArray()[0]?.engine_key;
  }

  private rememberSession(sessionKey: string, engineKey: string): void {
    this.ctx.storage.sql.exec(
      'INSERT OR REPLACE INTO sessions (session_key, engine_key, used_at) VALUES (?, ?, ?)',
      sessionKey,
      engineKey,
      Date.now(),
    );
  }

  private dropEngine(engineKey: string): void {
    this.engines.delete(engineKey);
    this.ctx.storage.sql.exec('DELETE FROM engines WHERE engine_key = ?', engineKey);
  }

  private loadState(): void {
    const rows = this.ctx.storage.sql
      .exec<{ engine_key: string; data: string }>('SELECT engine_key, data FROM engines')
      .toArray();
    for (const row of rows) {
      const engine = JSON.parse(row.data) as PoolEngine;
      this.engines.set(row.engine_key, {
        ...engine,
        engineKey: row.engine_key,
        inflight: 0,
        leasesSinceReport: 0,
      });
    }
    this.recountInflight();
  }

  private recountInflight(): void {
    for (const engine of this.engines.values()) engine.inflight = 0;
    const counts = this.ctx.storage.sql
      .exec<{ engine_key: string; n: number }>(
        'SELECT engine_key, COUNT(*) AS n FROM leases GROUP BY engine_key',
      )
      .toArray();
    for (const { engine_key, n } of counts) {
      const engine = this.engines.get(engine_key);
      if (engine) engine.inflight = n;
    }
  }
}
