/**
 * One object per served model name: the engines serving it, their last reported load, the
 * leases handed out, sessions, the prefix index, a circuit breaker per engine, and the pool's
 * routing policy. Every edge location asks the same object, so the in-flight counts are exact
 * and the prefix index is shared by construction: a request's earlier turn is known wherever
 * the next one comes in. A lease is counted from `pick` to `release`; the lease table and
 * sessions survive the object's eviction, the prefix index and breakers are soft state that
 * is rebuilt from traffic.
 *
 * The decision itself is `decidePick` (src/routing/pick.ts), a pure function of this state.
 */
import { DurableObject } from 'cloudflare:workers';
import { gatewayConfig } from '../gateway/config.ts';
import { servesRoute } from '../../src/protocol/engine-routes.ts';
import { CLOSED, breakerAt, onLeaseGranted, onLeaseOutcome } from '../../src/routing/circuit-breaker.ts';
import { decidePick, type PickRefusal, type PoolEngineState } from '../../src/routing/pick.ts';
import { isRoutingPolicy, type RoutingPolicy } from '../../src/routing/policies.ts';
import { MAX_PREFIX_BLOCKS } from '../../src/routing/prefix-blocks.ts';
import { PrefixIndex, cachedBlocksOf } from '../../src/routing/prefix-index.ts';

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
  /** When the load above was reported (the node's last heartbeat); null before any load was. */
  reportedAt: number | null;
  /** The routes the engine serves (src/protocol/engine-routes.ts); absent: unknown, every route is tried. */
  routes?: string[];
}

export interface PickRequest {
  /** The caller's, so it can release the lease before `pick` has answered. */
  leaseId: string;
  /** The request's session, scoped by tenant (`x-session-id`, `user`, LMDeploy's `session_id`). */
  affinityKey?: string;
  /** LMDeploy's interactive chat: the session's KV state lives on its engine; never move it. */
  strictSession?: boolean;
  /** Chained hashes of the request's prefix blocks (src/routing/prefix-blocks.ts): never text. */
  prefixHashes?: number[];
  /** Engines that already failed this request. */
  exclude?: string[];
  /** The route asked for (`POST /v1/messages`): only engines that serve it are picked. */
  route?: string;
  /** The one engine that may take the request (it stores the response the request names); never another. */
  pinnedEngine?: string;
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
  | { ok: false; reason: PickRefusal | 'route_not_served'; retryAfterSeconds: number };

export type LeaseOutcome = 'ok' | 'failed' | 'aborted';

/** What the engine reported of a successful answer's prompt: how much of it it had cached. */
export interface CacheReport {
  promptTokens: number;
  cachedTokens: number;
}

/** A lease's prefix, kept until it comes back: only an answered request is in the engine's cache. */
interface PendingPrefix {
  engineKey: string;
  hashes: number[];
  /** Leading blocks the index believed the engine held when it was picked. */
  expectedBlocks: number;
}

export interface EngineView extends PoolEngine, PoolEngineState {
  engineKey: string;
}

/** A lease older than this belongs to a Worker invocation that died without releasing it. */
const LEASE_MAX_AGE_MS = 60 * 60 * 1000;
const REAP_EVERY_MS = 5 * 60 * 1000;
/** Sessions kept (most recently used first); the table is trimmed once it grows 10% past this. */
const MAX_SESSIONS = 100_000;
/** Weight of the newest lease in an engine's mean duration: about the last ten requests count. */
const LEASE_DURATION_WEIGHT = 0.2;
/** Prefixes of leases not yet back; past this many (leases never released), the oldest go. */
const MAX_PENDING_PREFIXES = 10_000;

function engineKeyOf(nodeId: string, engineId: string): string {
  return `${nodeId}/${engineId}`;
}

export class ModelPool extends DurableObject<Env> {
  private engines = new Map<string, EngineView>();
  private readonly prefixes = new PrefixIndex();
  private readonly pendingPrefixes = new Map<string, PendingPrefix>();
  private policySetHere: RoutingPolicy | null = null;
  private turn = 0;
  private sessionsSinceTrim = 0;
  private reapScheduled = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`
        CREATE TABLE IF NOT EXISTS engines (engine_key TEXT PRIMARY KEY, node_id TEXT NOT NULL, data TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS leases (lease_id TEXT PRIMARY KEY, engine_key TEXT NOT NULL, created_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS sessions (session_key TEXT PRIMARY KEY, engine_key TEXT NOT NULL, used_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);`);
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
      const known = this.engines.get(key);
      this.engines.set(key, {
        ...engine,
        engineKey: key,
        inflight: known?.inflight ?? 0,
        leasesSinceReport: 0,
        breaker: known?.breaker ?? CLOSED,
        meanLeaseMs: known?.meanLeaseMs ?? null,
      });
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

  async pick(request: PickRequest): Promise<PickResult> {
    const config = gatewayConfig(this.env);
    const now = Date.now();
    const policy = this.policySetHere ?? config.routingPolicy;
    const usesAffinity = policy === 'affinity';
    const sessionKey = request.affinityKey;
    if (request.route !== undefined && this.noEngineServes(request.route)) {
      return { ok: false, reason: 'route_not_served', retryAfterSeconds: 0 };
    }
    // A pinned engine is a strict session of one request: that engine, or a refusal that says why.
    const session =
      request.pinnedEngine !== undefined
        ? { engineKey: request.pinnedEngine, strict: true }
        : sessionKey && (usesAffinity || request.strictSession)
          ? { engineKey: this.sessionEngine(sessionKey), strict: request.strictSession === true }
          : undefined;
    const prefixHashes = usesAffinity ? (request.prefixHashes ?? []) : [];
    const prefixMatches = this.prefixes.matches(prefixHashes);
    const decision = decidePick([...this.engines.values()], {
      policy,
      now,
      // One missed heartbeat is tolerated; past two, the figures describe another moment.
      staleAfterMs: 2 * config.heartbeatIntervalMs,
      overcommit: config.engineOvercommit,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      turn: this.turn++,
      exclude: new Set([...(request.exclude ?? []), ...this.enginesNotServing(request.route)]),
      session,
      prefixMatches,
    });
    if (!decision.ok) return decision;
    if (session && sessionKey) this.rememberSession(sessionKey, decision.engineKey);
    if (prefixHashes.length > 0) {
      const expectedBlocks = prefixMatches.get(decision.engineKey) ?? 0;
      this.holdPrefix(request.leaseId, {
        engineKey: decision.engineKey,
        hashes: prefixHashes,
        expectedBlocks,
      });
    }
    return { ok: true, lease: await this.grantLease(request.leaseId, decision.engineKey, now) };
  }

  /**
   * Returns a lease. Idempotent: a second release of the same lease changes nothing. `cache` is
   * what the engine reported of a successful answer, which teaches the prefix index its size.
   */
  release(leaseId: string, outcome: LeaseOutcome, cache?: CacheReport): boolean {
    this.learnPrefix(leaseId, outcome, cache);
    const row = this.ctx.storage.sql
      .exec<{ engine_key: string; created_at: number }>(
        'DELETE FROM leases WHERE lease_id = ? RETURNING engine_key, created_at',
        leaseId,
      )
      .toArray()[0];
    if (!row) return false;
    const engine = this.engines.get(row.engine_key);
    if (!engine) return true;
    const now = Date.now();
    engine.inflight = Math.max(0, engine.inflight - 1);
    engine.breaker = onLeaseOutcome(engine.breaker, leaseId, outcome, now);
    // Only successes measure speed: a failure is often quick, and would make a broken engine look fast.
    if (outcome === 'ok') {
      const ms = now - row.created_at;
      engine.meanLeaseMs =
        engine.meanLeaseMs === null
          ? ms
          : engine.meanLeaseMs + LEASE_DURATION_WEIGHT * (ms - engine.meanLeaseMs);
    }
    return true;
  }

  /** Sets this pool's policy; null returns it to the gateway's default (`ROUTING_POLICY`). */
  setPolicy(policy: RoutingPolicy | null): void {
    if (policy !== null && !isRoutingPolicy(policy))
      throw new Error(`unknown routing policy ${String(policy)}`);
    this.policySetHere = policy;
    if (policy === null) this.ctx.storage.sql.exec("DELETE FROM settings WHERE name = 'policy'");
    else
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO settings (name, value) VALUES ('policy', ?)", policy);
  }

  routingPolicy(): { policy: RoutingPolicy; setHere: boolean } {
    const policy = this.policySetHere ?? gatewayConfig(this.env).routingPolicy;
    return { policy, setHere: this.policySetHere !== null };
  }

  /** What the pool holds right now, for the admin API and tests (credentials left out). */
  snapshot(): Omit<EngineView, 'credential'>[] {
    const now = Date.now();
    return [...this.engines.values()].map(({ credential: _secret, ...view }) => ({
      ...view,
      breaker: breakerAt(view.breaker, now),
    }));
  }

  override async alarm(): Promise<void> {
    const cutoff = Date.now() - LEASE_MAX_AGE_MS;
    this.ctx.storage.sql.exec('DELETE FROM leases WHERE created_at < ?', cutoff);
    this.trimSessions();
    this.recountInflight();
    const leasesLeft = this.ctx.storage.sql.exec('SELECT 1 FROM leases LIMIT 1').toArray().length > 0;
    this.reapScheduled = leasesLeft;
    if (leasesLeft) await this.ctx.storage.setAlarm(Date.now() + REAP_EVERY_MS);
  }

  private async grantLease(leaseId: string, engineKey: string, now: number): Promise<Lease> {
    const engine = this.engines.get(engineKey)!;
    this.ctx.storage.sql.exec(
      'INSERT INTO leases (lease_id, engine_key, created_at) VALUES (?, ?, ?)',
      leaseId,
      engineKey,
      now,
    );
    engine.inflight += 1;
    engine.leasesSinceReport += 1;
    engine.breaker = onLeaseGranted(engine.breaker, leaseId, now);
    if (!this.reapScheduled) {
      this.reapScheduled = true;
      await this.ctx.storage.setAlarm(now + REAP_EVERY_MS);
    }
    const { nodeId, engineId, url, credential } = engine;
    return { leaseId, engineKey, nodeId, engineId, url, credential };
  }

  private holdPrefix(leaseId: string, pending: PendingPrefix): void {
    this.pendingPrefixes.set(leaseId, pending);
    if (this.pendingPrefixes.size > MAX_PENDING_PREFIXES) {
      this.pendingPrefixes.delete(this.pendingPrefixes.keys().next().value!);
    }
  }

  /** The engine has an answered request's prompt in its cache now; a failed or abandoned one may not. */
  private learnPrefix(leaseId: string, outcome: LeaseOutcome, cache: CacheReport | undefined): void {
    const pending = this.pendingPrefixes.get(leaseId);
    if (!pending) return;
    this.pendingPrefixes.delete(leaseId);
    if (outcome !== 'ok' || !this.engines.has(pending.engineKey)) return;
    // A prompt cut at MAX_PREFIX_BLOCKS has an unknown length, so its cached share says nothing.
    if (cache && pending.hashes.length < MAX_PREFIX_BLOCKS) {
      const cachedBlocks = cachedBlocksOf(pending.hashes.length, cache);
      this.prefixes.observe(pending.engineKey, pending.expectedBlocks, cachedBlocks);
    }
    this.prefixes.record(pending.engineKey, pending.hashes);
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
    // However many sessions arrive between alarms, the table stays within 10% of its bound.
    if (++this.sessionsSinceTrim > MAX_SESSIONS / 10) this.trimSessions();
  }

  private trimSessions(): void {
    this.sessionsSinceTrim = 0;
    this.ctx.storage.sql.exec(
      `DELETE FROM sessions WHERE session_key NOT IN
         (SELECT session_key FROM sessions ORDER BY used_at DESC LIMIT ?)`,
      MAX_SESSIONS,
    );
  }

  private dropEngine(engineKey: string): void {
    this.engines.delete(engineKey);
    this.prefixes.forget(engineKey);
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
        reportedAt: engine.reportedAt ?? null,
        engineKey: row.engine_key,
        inflight: 0,
        leasesSinceReport: 0,
        breaker: CLOSED,
        meanLeaseMs: null,
      });
    }
    const stored = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM settings WHERE name = 'policy'")
      .toArray()[0]?.value;
    this.policySetHere = isRoutingPolicy(stored) ? stored : null;
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

  /** The model has engines, and none of them serves `route`: a refusal, not a wait. */
  private noEngineServes(route: string): boolean {
    if (this.engines.size === 0) return false;
    for (const engine of this.engines.values()) if (servesRoute(engine.routes, route)) return false;
    return true;
  }

  private enginesNotServing(route: string | undefined): string[] {
    if (route === undefined) return [];
    return [...this.engines.values()].filter((e) => !servesRoute(e.routes, route)).map((e) => e.engineKey);
  }
}
