/**
 * The contract between the gateway and the GPU node agent, shared by both sides
 * (the Worker bundles it; the agent imports it directly under Node's type stripping).
 *
 * Agent → gateway (`/nodes/*`):
 *   POST /nodes/register    Authorization: Bearer <node token>       body RegisterRequest  → RegisterResponse
 *   POST /nodes/register/dry-run  <node token>  body RegisterRequest → DryRunResponse  (`gpu-node check`:
 *                           the token and the body are verified exactly as for a registration; nothing is stored)
 *   GET  /nodes/self        Authorization: Bearer <node credential>  → NodeStatusResponse (`gpu-node status`)
 *   POST /nodes/heartbeat   Authorization: Bearer <node credential>  body HeartbeatRequest → HeartbeatResponse
 *   POST /nodes/drain       Authorization: Bearer <node credential>  (no new leases; in-flight ones finish)
 *   POST /nodes/deregister  Authorization: Bearer <node credential>  (forget the node now)
 * A heartbeat answered 401 with code `node_unknown` means the gateway forgot the node: register again.
 *
 * Gateway → agent (every proxied call):
 *   <node url><original path>  Authorization: Bearer <node credential>
 *                              x-switchyard-engine: <engine id>   (routes without reading the body)
 *   The method is the client's (POST; GET and DELETE on stored responses), and a WebSocket
 *   upgrade (`GET /v1/realtime`) is passed through to the engine the same way.
 *   Every call also asks the agent to meter the answer: node-metering.ts.
 */
import * as z from '../zod-mini.ts';
import { EngineRoutesSchema } from './engine-routes.ts';

export const ENGINE_KINDS = ['vllm', 'sglang', 'lmdeploy', 'llamacpp', 'external', 'sim'] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];

/** Supervisor states; only `ready` engines receive traffic. */
export const ENGINE_STATES = [
  'starting',
  'ready',
  'unhealthy',
  'restarting',
  'crashloop',
  'stopped',
] as const;
export type EngineState = (typeof ENGINE_STATES)[number];

/** The credential header names, in one place. */
export const ENGINE_HEADER = 'x-switchyard-engine';

/** Load scraped from an engine's /metrics, normalized across engines. */
export const EngineLoadSchema = z.object({
  running: z.number().check(z.nonnegative()),
  waiting: z.number().check(z.nonnegative()),
  /** 0..1 share of the KV cache in use. */
  kvCacheUsage: z.number().check(z.gte(0), z.lte(1)),
});
export type EngineLoad = z.infer<typeof EngineLoadSchema>;

export const EngineReportSchema = z.object({
  /** Unique within the node; the agent routes on it (`x-switchyard-engine`). */
  id: z.string().check(z.regex(/^[A-Za-z0-9._-]{1,64}$/)),
  kind: z.enum(ENGINE_KINDS),
  /** The name clients put in `model`. */
  model: z.string().check(z.minLength(1), z.maxLength(256)),
  state: z.enum(ENGINE_STATES),
  /** Null until the first successful scrape. */
  load: z.nullable(EngineLoadSchema),
  /** Requests the engine can run at once (its batch slots); used as capacity. */
  maxConcurrency: z.int().check(z.positive()),
  restarts: z._default(z.int().check(z.nonnegative()), 0),
  /** Last lines of the engine's log, for the dashboard when it misbehaves. */
  lastLogLines: z._default(z.array(z.string().check(z.maxLength(2000))).check(z.maxLength(50)), []),
  /**
   * The routes the engine serves (`POST /v1/messages`, `GET /v1/responses/:id`; see
   * engine-routes.ts), as the agent's adapter declares them for its kind. Absent (older agents,
   * external servers): unknown, and the gateway tries every route on it.
   */
  routes: z.optional(EngineRoutesSchema),
  /** The context length the engine reports (vLLM's `max_model_len` in its model list), if it does. */
  maxModelLen: z.optional(z.int().check(z.positive())),
});
export type EngineReport = z.infer<typeof EngineReportSchema>;

/** One GPU as `nvidia-smi` reports it; null where it said `[N/A]`. */
export const GpuStatSchema = z.object({
  index: z.int().check(z.nonnegative()),
  uuid: z.string(),
  name: z.string(),
  memoryUsedMiB: z.nullable(z.number()),
  memoryTotalMiB: z.nullable(z.number()),
  utilizationPct: z.nullable(z.number()),
  temperatureC: z.nullable(z.number()),
});
export type GpuStat = z.infer<typeof GpuStatSchema>;

const engines = z.array(EngineReportSchema).check(z.maxLength(64));
const gpus = z._default(z.array(GpuStatSchema).check(z.maxLength(64)), []);

export const RegisterRequestSchema = z.object({
  name: z.string().check(z.minLength(1), z.maxLength(128)),
  /** The base URL the gateway uses to reach this node's agent proxy. */
  url: z.url({ protocol: /^https?$/ }),
  agentVersion: z._default(z.string().check(z.maxLength(64)), 'unknown'),
  engines,
  gpus,
});
export type RegisterRequest = z.input<typeof RegisterRequestSchema>;

export const RegisterResponseSchema = z.object({
  nodeId: z.string(),
  /** Presented by the gateway on every call to the node, and by the agent on heartbeats. */
  credential: z.string(),
  heartbeatIntervalMs: z.int().check(z.positive()),
});
export type RegisterResponse = z.infer<typeof RegisterResponseSchema>;

export const HeartbeatRequestSchema = z.object({ engines, gpus });
export type HeartbeatRequest = z.input<typeof HeartbeatRequestSchema>;

export const HeartbeatResponseSchema = z.object({
  ok: z.literal(true),
  /** True once the gateway has been told the node drains. */
  draining: z.boolean(),
});
export type HeartbeatResponse = z.infer<typeof HeartbeatResponseSchema>;

/** The code a heartbeat gets when the gateway has no record of the node. */
export const NODE_UNKNOWN_CODE = 'node_unknown';

/**
 * What `POST /nodes/register/dry-run` answers when a registration with the same token and body
 * would succeed. `sameName` is a node already registered under this token with this name: the
 * registration would replace it (an agent restart, or two machines sharing one name).
 */
export const DryRunResponseSchema = z.object({
  ok: z.literal(true),
  heartbeatIntervalMs: z.int().check(z.positive()),
  sameName: z.nullable(
    z.object({ nodeId: z.string(), status: z.enum(['healthy', 'unhealthy']), lastSeenAt: z.number() }),
  ),
});
export type DryRunResponse = z.infer<typeof DryRunResponseSchema>;

/** One engine of `GET /nodes/self`: its last report, and whether the model's pool routes to it now. */
export const NodeStatusEngineSchema = z.extend(EngineReportSchema, {
  /** The pool would lease this engine now: node healthy and not draining, engine ready. */
  routable: z.boolean(),
  /** Requests the pool has leased to this engine and not yet had back. */
  inflight: z.int().check(z.nonnegative()),
});

/** What the gateway holds about the calling node (`gpu-node status`). Times are epoch ms. */
export const NodeStatusResponseSchema = z.object({
  nodeId: z.string(),
  name: z.string(),
  url: z.string(),
  agentVersion: z.string(),
  registeredAt: z.number(),
  lastSeenAt: z.number(),
  status: z.enum(['healthy', 'unhealthy']),
  draining: z.boolean(),
  engines: z.array(NodeStatusEngineSchema),
  gpus: z.array(GpuStatSchema),
});
export type NodeStatusResponse = z.infer<typeof NodeStatusResponseSchema>;
