/** Durable Object stubs by role; the singletons are named here once. */
export function registry(env: Env) {
  return env.NODE_REGISTRY.get(env.NODE_REGISTRY.idFromName('global'));
}

export function directory(env: Env) {
  return env.DIRECTORY.get(env.DIRECTORY.idFromName('global'));
}
