/**
 * Tells, without any storage, whether a key id was made by this gateway: ids carry an HMAC
 * tag under a secret the Directory holds. The secret is fetched once per isolate (per
 * Directory namespace, so a test's fresh storage gets its own) and kept in memory.
 */
import { idSignedWith } from '../../src/credentials.ts';
import { directory } from '../objects/stubs.ts';

const secrets = new WeakMap<object, Promise<string>>();

export async function keyIdIssuedHere(env: Env, keyId: string): Promise<boolean> {
  let secret = secrets.get(env.DIRECTORY);
  if (!secret) {
    secret = directory(env).keyIdSecret();
    secrets.set(env.DIRECTORY, secret);
    // A failed fetch is not remembered: the next request asks again.
    secret.catch(() => secrets.delete(env.DIRECTORY));
  }
  return idSignedWith(await secret, keyId);
}
