/**
 * The gateway's own secret, held by the Directory and fetched once per isolate (per Directory
 * namespace, so a test's fresh storage gets its own), and what it signs: key ids, which the
 * edge checks without any storage, and node credentials, derived from a node's id and so
 * stored nowhere (src/credentials.ts).
 */
import { derivedNodeCredential, idSignedWith } from '../../src/credentials.ts';
import { directory } from '../objects/stubs.ts';

const secrets = new WeakMap<object, Promise<string>>();
/** Derived credentials by node id, per Directory namespace: one HMAC per node per isolate. */
const nodeCredentials = new WeakMap<object, Map<string, string>>();
/** Past this many nodes the cache starts over (a fleet has far fewer). */
const MAX_CACHED_NODES = 10_000;

function gatewaySecret(env: Env): Promise<string> {
  let secret = secrets.get(env.DIRECTORY);
  if (!secret) {
    secret = directory(env).keyIdSecret();
    secrets.set(env.DIRECTORY, secret);
    // A failed fetch is not remembered: the next request asks again.
    secret.catch(() => secrets.delete(env.DIRECTORY));
  }
  return secret;
}

/** Whether a key id was made by this gateway. */
export async function keyIdIssuedHere(env: Env, keyId: string): Promise<boolean> {
  return idSignedWith(await gatewaySecret(env), keyId);
}

/** The credential the gateway presents to a node's agent (and the node presents back). */
export async function nodeCredential(env: Env, nodeId: string): Promise<string> {
  let cache = nodeCredentials.get(env.DIRECTORY);
  if (!cache) nodeCredentials.set(env.DIRECTORY, (cache = new Map()));
  const known = cache.get(nodeId);
  if (known) return known;
  const credential = await derivedNodeCredential(await gatewaySecret(env), nodeId);
  if (cache.size >= MAX_CACHED_NODES) cache.clear();
  cache.set(nodeId, credential);
  return credential;
}
