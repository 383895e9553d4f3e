/**
 * The Worker's types and its configuration, validated once per isolate: a typo in a
 * tunable fails loudly at the first request instead of silently using NaN.
 */
import * as z from '../../src/zod-mini.ts';

import { ROUTING_POLICIES, type RoutingPolicy } from '../../src/routing/policies.ts';
import type { NodeScope } from '../../src/nodes/node-scope.ts';
import type { AdminCaller } from './middleware/admin-auth.ts';

export interface AuthenticatedKey {
  keyId: string;
  tenantId: string;
}

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    apiKey: AuthenticatedKey;
    /** The key's model allow-list; null: every model. */
    allowedModels: string[] | null;
    node: { id: string; credential: string };
    nodeToken: { id: string; scope: NodeScope };
    admin: AdminCaller;
  };
};

const millis = z.coerce.number().check(z.int(), z.positive());

const GatewayConfigSchema = z.object({
  HEARTBEAT_INTERVAL_MS: millis,
  NODE_UNHEALTHY_AFTER_MS: millis,
  NODE_EVICT_AFTER_MS: millis,
  UPSTREAM_CONNECT_TIMEOUT_MS: millis,
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: millis,
  UPSTREAM_IDLE_TIMEOUT_MS: millis,
  MAX_JSON_BODY_BYTES: millis,
  MAX_UPLOAD_BYTES: millis,
  ENGINE_OVERCOMMIT: z.coerce.number().check(z.positive()),
  DEFAULT_COMPLETION_TOKENS: z.coerce.number().check(z.int(), z.positive()),
  USAGE_FLUSH_MS: millis,
  USAGE_RETENTION_DAYS: z.coerce.number().check(z.int(), z.positive()),
  ROUTING_POLICY: z.enum(ROUTING_POLICIES),
  ALLOW_PRIVATE_NODE_URLS: z._default(z.enum(['true', 'false']), 'false'),
  CORS_ORIGINS: z
    ._default(z.string().check(z.trim()), '*')
    .check(
      z.refine(
        (value) => value === '*' || value.split(',').every((origin) => ORIGIN.test(origin.trim())),
        'expected `*` or a comma-separated list of origins such as https://app.example.com',
      ),
    ),
  STORED_RESPONSE_TTL_HOURS: z._default(z.coerce.number().check(z.positive()), 168),
});

/** `scheme://host[:port]`, as browsers send `Origin`. */
const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/;

export interface GatewayConfig {
  heartbeatIntervalMs: number;
  nodeUnhealthyAfterMs: number;
  nodeEvictAfterMs: number;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  maxJsonBodyBytes: number;
  maxUploadBytes: number;
  /** An engine gets at most maxConcurrency × this many requests in flight from the gateway. */
  engineOvercommit: number;
  /** Completion tokens reserved when a request names no cap. */
  defaultCompletionTokens: number;
  usageFlushMs: number;
  usageRetentionDays: number;
  /** The routing policy of pools that have none of their own (`PUT /admin/api/pools/{model}/policy`). */
  routingPolicy: RoutingPolicy;
  /** Nodes may register loopback and private-network URLs (self-hosting on a LAN, `npm start`). */
  allowPrivateNodeUrls: boolean;
  /** Browser origins that may call the public routes: any (`*`, without credentials) or these. */
  corsOrigins: '*' | string[];
  /** How long the gateway remembers which engine stores a response (then `GET` on it is a 404). */
  storedResponseTtlMs: number;
}

let cached: { source: Env; config: GatewayConfig } | undefined;

export function gatewayConfig(env: Env): GatewayConfig {
  if (cached?.source === env) return cached.config;
  const parsed = GatewayConfigSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`Invalid gateway configuration (wrangler.toml [vars]): ${z.prettifyError(parsed.error)}`);
  }
  const v = parsed.data;
  const config: GatewayConfig = {
    heartbeatIntervalMs: v.HEARTBEAT_INTERVAL_MS,
    nodeUnhealthyAfterMs: v.NODE_UNHEALTHY_AFTER_MS,
    nodeEvictAfterMs: v.NODE_EVICT_AFTER_MS,
    connectTimeoutMs: v.UPSTREAM_CONNECT_TIMEOUT_MS,
    firstByteTimeoutMs: v.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
    idleTimeoutMs: v.UPSTREAM_IDLE_TIMEOUT_MS,
    maxJsonBodyBytes: v.MAX_JSON_BODY_BYTES,
    maxUploadBytes: v.MAX_UPLOAD_BYTES,
    engineOvercommit: v.ENGINE_OVERCOMMIT,
    defaultCompletionTokens: v.DEFAULT_COMPLETION_TOKENS,
    usageFlushMs: v.USAGE_FLUSH_MS,
    usageRetentionDays: v.USAGE_RETENTION_DAYS,
    routingPolicy: v.ROUTING_POLICY,
    allowPrivateNodeUrls: v.ALLOW_PRIVATE_NODE_URLS === 'true',
    corsOrigins: v.CORS_ORIGINS === '*' ? '*' : v.CORS_ORIGINS.split(',').map((origin) => origin.trim()),
    storedResponseTtlMs: v.STORED_RESPONSE_TTL_HOURS * 60 * 60 * 1000,
  };
  cached = { source: env, config };
  return config;
}
