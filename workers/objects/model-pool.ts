/**
 * One object per served model name: the engines serving it, their last reported load, the
 * leases handed out, sessions, the prefix index, a circuit breaker per engine, and the pool's
 * routing policy. Every edge location asks the same object, so the in-flight counts are exact
 * and the prefix index is shared by construction: a request's earlier turn is known wherever
 * the next one comes in.
 *
 * A lease is counted from `pick` to `release`, in memory: granting and returning one writes
 * nothing, so neither waits for a storage commit. The call holding a lease renews it every
 * few seconds (src/limits/hold-renewal.ts), which keeps the object busy — and so never evicted
 * for idleness — while any lease lives; if the object restarts anyway (a crash, a deploy), each
 * live lease is renewed within `RENEW_EVERY_MS` and a renewal of a lease the pool does not
 * know counts it again, so the counts are whole again within seconds. Leases whose renewals
 * stop (their Worker died) are taken back after `EXPIRE_AFTER_MS`. Engines, sessions and the
 * policy are stored; the prefix index and breakers are soft state rebuilt from traffic.
 *
 * Tables are created by the first write, so a pick for a model nobody serves stores nothing.
 * The lease book is lease-book.ts; the session table pool-sessions.ts.
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
import { LeaseBook } from './lease-book.ts';
import { PoolSessions } from './pool-sessions.ts';
import { PrefixIndex, cachedBlocksOf } from '../../src/routing/prefix-index.ts';

/** An engine as the registry pushes it to the pool. */
export interface PoolEngine {
  nodeId: string;
  engineId: string;
  url: string;
  /** Whose node it is (its node token's owner): tenants may trust only some owners. */
  owner: string;
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
  /** Only engines of these node owners (the tenant's `trustedOwners`); absent: any owner's. */
  owners?: string[];
  /** Leases of calls that ended, carried along (ride-along.ts): returned before the pick. */
  releases?: LeaseReturn[];
}

export interface Lease {
  leaseId: string;
  engineKey: string;
  nodeId: string;
  engineId: string;
  url: string;
  owner: string;
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

/** A lease that comes back: how its call went, and what the answer said of its prompt's cache. */
export interface LeaseReturn {
  leaseId: string;
  outcome: LeaseOutcome;
  cache?: CacheReport;
}

/** A lease its holder renews: enough to count it again if the pool restarted since the grant. */
export interface LeaseRenewal {
  leaseId: string;
  engineKey: string;
}
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
  private readonly sessions: PoolSessions;
  private readonly leases = new LeaseBook((leaseId) => this.release(leaseId, 'aborted'));
  private tablesExist = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sessions = new PoolSessions(ctx.storage.sql);
    ctx.blockConcurrencyWhile(async () => {
      this.tablesExist =
        ctx.storage.sql
          .exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'engines'")
          .toArray().length > 0;
      if (this.tablesExist) await this.loadState();
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
      this.ensureTables();
      this.ctx.storage.sql.exec(
        `INSERT INTO engines (engine_key, node_id, data) VALUES (?, ?, ?)
           ON CONFLICT (engine_key) DO UPDATE SET node_id = excluded.node_id, data = excluded.data`,
        key,
        nodeId,
        JSON.stringify(engine),
      );
    }
  }

  removeNode(nodeId: string): void {
    this.syncNode(nodeId, []);
  }

  pick(request: PickRequest): PickResult {
    if (request.releases) this.releaseLeases(request.releases);
    const config = gatewayConfig(this.env);
    const now = Date.now();
    const policy = this.policySetHere ?? config.routingPolicy;
    const usesAffinity = policy === 'affinity';
    const sessionKey = request.affinityKey;
    if (request.route !== undefined && this.noEngineServes(request.route)) {
      return { ok: false, reason: 'route_not_served', retryAfterSeconds: 0 };
    }
    const untrusted = this.enginesOfOtherOwners(request.owners);
    if (untrusted.length > 0 && untrusted.length === this.engines.size) {
      return { ok: false, reason: 'no_trusted_engine', retryAfterSeconds: 0 };
    }
    // A pinned engine is a strict session of one request: that engine, or a refusal that says why.
    const session =
      request.pinnedEngine !== undefined
        ? { engineKey: request.pinnedEngine, strict: true }
        : sessionKey && (usesAffinity || request.strictSession)
          ? { engineKey: this.sessions.engineOf(sessionKey), strict: request.strictSession === true }
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
      exclude: new Set([...(request.exclude ?? []), ...this.enginesNotServing(request.route), ...untrusted]),
      session,
      prefixMatches,
    });
    if (!decision.ok) return decision;
    if (session && sessionKey) this.sessions.remember(sessionKey, decision.engineKey);
    if (prefixHashes.length > 0) {
      const expectedBlocks = prefixMatches.get(decision.engineKey) ?? 0;
      this.holdPrefix(request.leaseId, {
        engineKey: decision.engineKey,
        hashes: prefixHashes,
        expectedBlocks,
      });
    }
    return { ok: true, lease: this.grantLease(request.leaseId, decision.engineKey, now) };
  }

  /**
   * Returns a lease. Idempotent: a second release of the same lease changes nothing. `cache` is
   * what the engine reported of a successful answer, which teaches the prefix index its size.
   */
  release(leaseId: string, outcome: LeaseOutcome, cache?: CacheReport): boolean {
    this.learnPrefix(leaseId, outcome, cache);
    const lease = this.leases.take(leaseId);
    if (!lease) return false;
    const engine = this.engines.get(lease.engineKey);
    if (!engine) return true;
    const now = Date.now();
    engine.inflight = Math.max(0, engine.inflight - 1);
    engine.breaker = onLeaseOutcome(engine.breaker, leaseId, outcome, now);
    // Only successes measure speed: a failure is often quick, and would make a broken engine look fast.
    if (outcome === 'ok' && lease.grantedAt !== null) {
      const ms = now - lease.grantedAt;
      engine.meanLeaseMs =
        engine.meanLeaseMs === null
          ? ms
          : engine.meanLeaseMs + LEASE_DURATION_WEIGHT * (ms - engine.meanLeaseMs);
    }
    return true;
  }

  /** Returns leases no pick carried (ride-along.ts): how many the pool still held. */
  releaseLeases(returns: LeaseReturn[]): number {
    let held = 0;
    for (const { leaseId, outcome, cache } of returns) if (this.release(leaseId, outcome, cache)) held++;
    return held;
  }

  /**
   * The calls holding these leases are alive. A lease the pool does not know — it restarted
   * since the grant — is counted again, on an engine it still has; one already returned is
   * not, since its release came after its last renewal on the same stub. Returns how many of
   * the leases the pool holds now.
   */
  renewLeases(renewals: LeaseRenewal[]): number {
    const now = Date.now();
    let held = 0;
    for (const { leaseId, engineKey } of renewals) {
      if (this.leases.renew(leaseId, now)) {
        held++;
        continue;
      }
      const engine = this.engines.get(engineKey);
      if (!engine) continue;
      this.leases.hold(leaseId, engineKey, now, null);
      engine.inflight += 1;
      held++;
    }
    return held;
  }

  /** Sets this pool's policy; null returns it to the gateway's default (`ROUTING_POLICY`). */
  setPolicy(policy: RoutingPolicy | null): void {
    if (policy !== null && !isRoutingPolicy(policy))
      throw new Error(`unknown routing policy ${String(policy)}`);
    this.policySetHere = policy;
    this.ensureTables();
    if (policy === null) this.ctx.storage.sql.exec("DELETE FROM settings WHERE name = 'policy'");
    else
      this.ctx.storage.sql.exec(
        "INSERT INTO settings (name, value) VALUES ('policy', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        policy,
      );
  }

  routingPolicy(): { policy: RoutingPolicy; setHere: boolean } {
    const policy = this.policySetHere ?? gatewayConfig(this.env).routingPolicy;
    return { policy, setHere: this.policySetHere !== null };
  }

  /** What the pool holds right now, for the admin API and tests. */
  snapshot(): EngineView[] {
    const now = Date.now();
    return [...this.engines.values()].map((view) => ({
      ...view,
      breaker: breakerAt(view.breaker, now),
    }));
  }

  private grantLease(leaseId: string, engineKey: string, now: number): Lease {
    const engine = this.engines.get(engineKey)!;
    this.leases.hold(leaseId, engineKey, now, now);
    engine.inflight += 1;
    engine.leasesSinceReport += 1;
    engine.breaker = onLeaseGranted(engine.breaker, leaseId, now);
    const { nodeId, engineId, url, owner } = engine;
    return { leaseId, engineKey, nodeId, engineId, url, owner };
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

  private dropEngine(engineKey: string): void {
    this.engines.delete(engineKey);
    this.prefixes.forget(engineKey);
    this.ctx.storage.sql.exec('DELETE FROM engines WHERE engine_key = ?', engineKey);
  }

  private ensureTables(): void {
    if (this.tablesExist) return;
    this.ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS engines (engine_key TEXT PRIMARY KEY, node_id TEXT NOT NULL, data TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);`);
    this.tablesExist = true;
  }

  private async loadState(): Promise<void> {
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
    // Pools from before leases moved to memory kept them in a table, reaped by an alarm.
    const legacy = this.ctx.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'leases'").toArray();
    if (legacy.length > 0) {
      this.ctx.storage.sql.exec('DROP TABLE leases');
      await this.ctx.storage.deleteAlarm();
    }
  }

  /** The model has engines, and none of them serves `route`: a refusal, not a wait. */
  private noEngineServes(route: string): boolean {
    if (this.engines.size === 0) return false;
    for (const engine of this.engines.values()) if (servesRoute(engine.routes, route)) return false;
    return true;
  }

  private enginesOfOtherOwners(owners: string[] | undefined): string[] {
    if (owners === undefined) return [];
    return [...this.engines.values()].filter((e) => !owners.includes(e.owner)).map((e) => e.engineKey);
  }

  private enginesNotServing(route: string | undefined): string[] {
    if (route === undefined) return [];
    return [...this.engines.values()].filter((e) => !servesRoute(e.routes, route)).map((e) => e.engineKey);
  }
}
