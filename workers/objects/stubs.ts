/**
 * The one place that turns names into Durable Object stubs, typed by role, and that knows
 * when a failed call may be sent again.
 */
import { responseShard } from '../../src/openai/response-ids.ts';

export function modelPool(env: Env, model: string) {
  return env.MODEL_POOL.get(env.MODEL_POOL.idFromName(model));
}

export function apiKey(env: Env, keyId: string) {
  return env.API_KEY.get(env.API_KEY.idFromName(keyId));
}

export function tenantUsage(env: Env, tenantId: string) {
  return env.TENANT_USAGE.get(env.TENANT_USAGE.idFromName(tenantId));
}

export function registry(env: Env) {
  return env.NODE_REGISTRY.get(env.NODE_REGISTRY.idFromName('global'));
}

export function directory(env: Env) {
  return env.DIRECTORY.get(env.DIRECTORY.idFromName('global'));
}

/** Shards of the response-id → engine table; fixed, since an id must always find its shard again. */
const STORED_RESPONSE_SHARDS = 64;

export function storedResponses(env: Env, responseId: string) {
  const shard = responseShard(responseId, STORED_RESPONSE_SHARDS);
  return env.STORED_RESPONSES.get(env.STORED_RESPONSES.idFromName(`responses-${shard}`));
}

/**
 * Runs an idempotent Durable Object call, once more when the first try failed in a way
 * Cloudflare marks retryable (a transient reset) and not as an overload (retrying an
 * overloaded object only makes it worse).
 */
export async function callWithRetry<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const { retryable, overloaded } = err as { retryable?: boolean; overloaded?: boolean };
    if (retryable && !overloaded) return call();
    throw err;
  }
}
