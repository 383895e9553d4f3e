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
/** Past this many entries a cache starts over. */
const MAX_CACHED = 10_000;

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

/** Key ids whose tag checked out, per Directory namespace: one HMAC per key per isolate. */
const issuedIds = new WeakMap<object, Set<string>>();

/** Whether a key id was made by this gateway. */
export async function keyIdIssuedHere(env: Env, keyId: string): Promise<boolean> {
  let issued = issuedIds.get(env.DIRECTORY);
  if (!issued) issuedIds.set(env.DIRECTORY, (issued = new Set()));
  if (issued.has(keyId)) return true;
  if (!(await idSignedWith(await gatewaySecret(env), keyId))) return false;
  if (issued.size >= MAX_CACHED) issued.clear();
  issued.add(keyId);
  return true;
}

/** The credential the gateway presents to a node's agent (and the node presents back). */
export async function nodeCredential(env: Env, nodeId: string): Promise<string> {
  let cache = nodeCredentials.get(env.DIRECTORY);
  if (!cache) nodeCredentials.set(env.DIRECTORY, (cache = new Map()));
  const known = cache.get(nodeId);
  if (known) return known;
  const credential = await derivedNodeCredential(await gatewaySecret(env), nodeId);
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(nodeId, credential);
  return credential;
}
