/**
 * The one place that turns names into Durable Object stubs, typed by role, and that knows
 * when a failed call may be sent again.
 */
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
