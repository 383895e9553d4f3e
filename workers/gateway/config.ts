/**
 * The Worker's types and its configuration, validated once per isolate: a typo in a
 * tunable fails loudly at the first request instead of silently using NaN.
 */
import { z } from 'zod';

export interface AuthenticatedKey {
  keyId: string;
  tenant: string;
}

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    apiKey: AuthenticatedKey;
    node: { id: string; credential: string };
    nodeToken: { id: string };
  };
};

const millis = z.coerce.number().int().positive();

const GatewayConfigSchema = z.object({
  HEARTBEAT_INTERVAL_MS: millis,
  NODE_UNHEALTHY_AFTER_MS: millis,
  NODE_EVICT_AFTER_MS: millis,
  UPSTREAM_CONNECT_TIMEOUT_MS: millis,
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: millis,
  UPSTREAM_IDLE_TIMEOUT_MS: millis,
  MAX_JSON_BODY_BYTES: millis,
  MAX_UPLOAD_BYTES: millis,
  ENGINE_OVERCOMMIT: z.coerce.number().positive(),
});

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
  };
  cached = { source: env, config };
  return config;
}
