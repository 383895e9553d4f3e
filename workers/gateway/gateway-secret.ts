/**
 * The gateway's own secret, held by the Directory and fetched once per isolate (per Directory
 * namespace, so a test's fresh storage gets its own), and what it signs: key ids, which the
 * edge checks without any storage, and node credentials, derived from a node's id and so
 * stored nowhere (src/credentials.ts).
 */
import { derivedNodeCredential, idSignedWith } from '../../src/credentials.ts';
import { directory } from '../objects/stubs.ts';
import { IsolateCache } from './isolate-cache.ts';

/** Past this many entries a cache starts over. */
const MAX_CACHED = 10_000;

/** Per Directory namespace: the secret, and what was learned with it. */
interface SecretState {
  secret: Promise<string>;
  /** Key ids whose tag checked out: one HMAC per key per isolate. */
  issuedIds: IsolateCache<string, true>;
  /** Derived credentials by node id: one HMAC per node per isolate. */
  nodeCredentials: IsolateCache<string, string>;
}

const states = new WeakMap<object, SecretState>();

function stateOf(env: Env): SecretState {
  let state = states.get(env.DIRECTORY);
  if (!state) {
    const secret = directory(env).keyIdSecret();
    state = {
      secret,
      issuedIds: new IsolateCache(MAX_CACHED),
      nodeCredentials: new IsolateCache(MAX_CACHED),
    };
    states.set(env.DIRECTORY, state);
    // A failed fetch is not remembered: the next request asks again.
    secret.catch(() => states.delete(env.DIRECTORY));
  }
  return state;
}

/** Whether a key id was made by this gateway. */
export async function keyIdIssuedHere(env: Env, keyId: string): Promise<boolean> {
  const state = stateOf(env);
  if (state.issuedIds.has(keyId)) return true;
  if (!(await idSignedWith(await state.secret, keyId))) return false;
  state.issuedIds.set(keyId, true);
  return true;
}

/** The credential the gateway presents to a node's agent (and the node presents back). */
export async function nodeCredential(env: Env, nodeId: string): Promise<string> {
  const state = stateOf(env);
  const known = state.nodeCredentials.get(nodeId);
  if (known) return known;
  const credential = await derivedNodeCredential(await state.secret, nodeId);
  state.nodeCredentials.set(nodeId, credential);
  return credential;
}
