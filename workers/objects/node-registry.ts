/**
 * Every registered GPU node: registration, heartbeats, health, drain. One instance, named
 * `global`. Liveness is by alarm: a node whose heartbeats stop is marked unhealthy, then
 * evicted, with no cron. Each change is pushed to the ModelPool of every model the node
 * serves, so pools only ever route to engines that reported recently.
 */
import { DurableObject } from 'cloudflare:workers';
import { derivedNodeCredential, randomToken, secretsMatch } from '../../src/credentials.ts';
import { gatewayConfig } from '../gateway/config.ts';
import type { EngineReport, GpuStat, RegisterResponse } from '../../src/protocol/node-api.ts';
import type { PoolEngine } from './model-pool.ts';
import { scopeViolation, type NodeScope } from '../../src/nodes/node-scope.ts';
import { directory, modelPool } from './stubs.ts';

export type NodeStatus = 'healthy' | 'unhealthy';

export interface NodeRecord {
  id: string;
  name: string;
  url: string;
  tokenId: string;
  /** What the node's token lets it serve; records from before tokens had scopes have none. */
  scope?: NodeScope;
  agentVersion: string;
  registeredAt: number;
  lastSeenAt: number;
  status: NodeStatus;
  draining: boolean;
  engines: EngineReport[];
  gpus: GpuStat[];
}

/** A node as the admin API shows it. Its credential is derived from its id, never stored (gateway-secret.ts). */
export type NodeView = NodeRecord;

export interface ServedModel {
  id: string;
  created: number;
  /** Who runs the engines: their node tokens' owner, or `switchyard` when several owners do. */
  ownedBy: string;
  /** The smallest context length its engines report, when each one that is ready reports one. */
  maxModelLen?: number;
  /** Every route some ready engine serves; absent when one of them did not say (it may serve any). */
  routes?: string[];
}

export type NodeCall<T> =
  | { ok: true; value: T }
  | { ok: false; reason: 'node_unknown' }
  | { ok: false; reason: 'scope_exceeded'; detail: string };

/** A record from before node tokens had scopes is trusted with nothing. */
function scopeOfNode(node: NodeRecord): NodeScope {
  return node.scope ?? { owner: 'operator', models: [] };
}

export class NodeRegistry extends DurableObject<Env> {
  private nodes = new Map<string, NodeRecord>();
  /** The gateway's secret (the Directory's), fetched once per instance. */
  private secret: string | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS nodes (id TEXT PRIMARY KEY, data TEXT NOT NULL)');
      for (const row of ctx.storage.sql.exec<{ data: string }>('SELECT data FROM nodes')) {
        // Records from before credentials were derived held theirs; it no longer opens anything.
        const { credential: _stored, ...node } = JSON.parse(row.data) as NodeRecord & { credential?: string };
        this.nodes.set(node.id, node);
      }
    });
  }

  /**
   * Registers a node under a verified node token, as a new node. A node is its credential,
   * never its name: registering again (an agent restart) displaces nobody; the old record stops
   * heartbeating and is evicted, or is removed at once when the agent deregisters on its way out.
   */
  async register(input: {
    tokenId: string;
    scope: NodeScope;
    name: string;
    url: string;
    agentVersion: string;
    engines: EngineReport[];
    gpus: GpuStat[];
  }): Promise<RegisterResponse> {
    const id = randomToken(8);
    const now = Date.now();
    const node: NodeRecord = {
      ...input,
      id,
      registeredAt: now,
      lastSeenAt: now,
      status: 'healthy',
      draining: false,
    };
    await this.save(node, []);
    await this.ensureAlarm();
    const { heartbeatIntervalMs } = gatewayConfig(this.env);
    return { nodeId: id, credential: await this.credentialOf(id), heartbeatIntervalMs };
  }

  async heartbeat(
    nodeId: string,
    credential: string,
    report: { engines: EngineReport[]; gpus: GpuStat[] },
  ): Promise<NodeCall<{ draining: boolean }>> {
    const node = await this.authenticated(nodeId, credential);
    if (!node) return { ok: false, reason: 'node_unknown' };
    const beyond = scopeViolation(scopeOfNode(node), report.engines);
    if (beyond) return { ok: false, reason: 'scope_exceeded', detail: beyond };
    const previous = node.engines;
    Object.assign(node, { ...report, lastSeenAt: Date.now(), status: 'healthy' satisfies NodeStatus });
    await this.save(node, previous);
    await this.ensureAlarm();
    return { ok: true, value: { draining: node.draining } };
  }

  /** Stops new leases to the node; requests already running finish. */
  async drain(nodeId: string, credential: string): Promise<NodeCall<null>> {
    const node = await this.authenticated(nodeId, credential);
    if (!node) return { ok: false, reason: 'node_unknown' };
    node.draining = true;
    await this.save(node, node.engines);
    return { ok: true, value: null };
  }

  async deregister(nodeId: string, credential: string): Promise<NodeCall<null>> {
    const node = await this.authenticated(nodeId, credential);
    if (!node) return { ok: false, reason: 'node_unknown' };
    await this.forget(node);
    return { ok: true, value: null };
  }

  /** The operator removes a node: its engines leave every pool now; it must register again. */
  async evict(nodeId: string): Promise<boolean> {
    const node = this.nodes.get(nodeId);
    if (!node) return false;
    await this.forget(node);
    return true;
  }

  listNodes(): NodeView[] {
    return [...this.nodes.values()];
  }

  /** Whether any registered node has an engine of `model` (ready or not): its pool has engines. */
  servesModel(model: string): boolean {
    for (const node of this.nodes.values()) {
      if (node.engines.some((engine) => engine.model === model)) return true;
    }
    return false;
  }

  /** Models with at least one engine that can take a request now, with what their engines say of them. */
  listModels(): ServedModel[] {
    const models = new Map<
      string,
      ServedModel & { owners: Set<string>; lengths: Array<number | undefined> }
    >();
    for (const node of this.nodes.values()) {
      for (const engine of node.engines) {
        if (!isAvailable(node, engine)) continue;
        const created = Math.floor(node.registeredAt / 1000);
        const model = models.get(engine.model) ?? {
          id: engine.model,
          created,
          ownedBy: '',
          routes: [],
          owners: new Set<string>(),
          lengths: [],
        };
        model.created = Math.min(model.created, created);
        model.owners.add(scopeOfNode(node).owner);
        model.lengths.push(engine.maxModelLen);
        model.routes =
          engine.routes && model.routes ? [...new Set([...model.routes, ...engine.routes])] : undefined;
        models.set(engine.model, model);
      }
    }
    return [...models.values()]
      .map(({ owners, lengths, ...model }) => {
        const known = lengths.filter((length) => length !== undefined);
        return {
          ...model,
          ownedBy: owners.size === 1 ? [...owners][0]! : 'switchyard',
          ...(known.length === lengths.length
            ? { maxModelLen: Math.min(...known) }
            : { maxModelLen: undefined }),
        };
      })
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  override async alarm(): Promise<void> {
    const { nodeUnhealthyAfterMs, nodeEvictAfterMs } = gatewayConfig(this.env);
    const now = Date.now();
    for (const node of [...this.nodes.values()]) {
      const silentFor = now - node.lastSeenAt;
      if (silentFor > nodeEvictAfterMs) {
        console.warn(`evicting node ${node.name} (${node.id}): silent for ${silentFor} ms`);
        await this.forget(node);
      } else if (silentFor > nodeUnhealthyAfterMs && node.status === 'healthy') {
        console.warn(`node ${node.name} (${node.id}) unhealthy: silent for ${silentFor} ms`);
        node.status = 'unhealthy';
        await this.save(node, node.engines);
      }
    }
    if (this.nodes.size > 0) await this.ctx.storage.setAlarm(now + this.checkEveryMs());
  }

  private async authenticated(nodeId: string, credential: string): Promise<NodeRecord | undefined> {
    const node = this.nodes.get(nodeId);
    return node && (await secretsMatch(credential, await this.credentialOf(nodeId))) ? node : undefined;
  }

  /** A node's credential, derived from its id under the gateway's secret: stored nowhere. */
  private async credentialOf(nodeId: string): Promise<string> {
    this.secret ??= await directory(this.env).keyIdSecret();
    return derivedNodeCredential(this.secret, nodeId);
  }

  private async save(node: NodeRecord, previousEngines: EngineReport[]): Promise<void> {
    this.nodes.set(node.id, node);
    this.ctx.storage.sql.exec(
      // An upsert writes one row; INSERT OR REPLACE writes two (the row and its key index).
      'INSERT INTO nodes (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data',
      node.id,
      JSON.stringify(node),
    );
    await this.syncPools(node, previousEngines);
  }

  private async forget(node: NodeRecord): Promise<void> {
    this.nodes.delete(node.id);
    this.ctx.storage.sql.exec('DELETE FROM nodes WHERE id = ?', node.id);
    await Promise.all(
      uniqueModels(node.engines).map((model) => modelPool(this.env, model).removeNode(node.id)),
    );
  }

  /** Pushes the node's engines to each pool it serves, and withdraws it from pools it left. */
  private async syncPools(node: NodeRecord, previousEngines: EngineReport[]): Promise<void> {
    const current = uniqueModels(node.engines);
    const departed = uniqueModels(previousEngines).filter((model) => !current.includes(model));
    await Promise.all([
      ...current.map((model) =>
        modelPool(this.env, model).syncNode(
          node.id,
          node.engines.filter((e) => e.model === model).map((e) => toPoolEngine(node, e)),
        ),
      ),
      ...departed.map((model) => modelPool(this.env, model).removeNode(node.id)),
    ]);
  }

  private checkEveryMs(): number {
    const { nodeUnhealthyAfterMs } = gatewayConfig(this.env);
    return Math.max(250, Math.floor(nodeUnhealthyAfterMs / 3));
  }

  private async ensureAlarm(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now() + this.checkEveryMs());
    }
  }

  /** The calling node's own record (`GET /nodes/self`), authenticated by its credential. */
  async viewOwnNode(nodeId: string, credential: string): Promise<NodeCall<NodeView>> {
    const node = await this.authenticated(nodeId, credential);
    if (!node) return { ok: false, reason: 'node_unknown' };
    return { ok: true, value: node };
  }

  /**
   * The operator stops new leases to a node, or lets them resume (the dashboard's drain). Requests
   * running finish; the agent hears it in its next heartbeat answer. A re-registration resumes.
   */
  async setDraining(nodeId: string, draining: boolean): Promise<boolean> {
    const node = this.nodes.get(nodeId);
    if (!node) return false;
    node.draining = draining;
    await this.save(node, node.engines);
    return true;
  }
}

function isAvailable(node: NodeRecord, engine: EngineReport): boolean {
  return node.status === 'healthy' && !node.draining && engine.state === 'ready';
}

function uniqueModels(engines: EngineReport[]): string[] {
  return [...new Set(engines.map((e) => e.model))];
}

function toPoolEngine(node: NodeRecord, engine: EngineReport): PoolEngine {
  return {
    nodeId: node.id,
    engineId: engine.id,
    url: node.url,
    owner: scopeOfNode(node).owner,
    available: isAvailable(node, engine),
    running: engine.load?.running ?? 0,
    waiting: engine.load?.waiting ?? 0,
    kvCacheUsage: engine.load?.kvCacheUsage ?? 0,
    maxConcurrency: engine.maxConcurrency,
    // The figures are as old as the heartbeat that carried them; none yet is unknown, not idle.
    reportedAt: engine.load ? node.lastSeenAt : null,
    ...(engine.routes ? { routes: engine.routes } : {}),
  };
}
