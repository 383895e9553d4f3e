/**
 * The check of the node credential on every proxied call. The expected credential changes only
 * at registration, so its digest is kept until it does; the presented one is hashed with
 * node:crypto's synchronous SHA-256 (about a microsecond) rather than WebCrypto's, whose promise
 * and thread-pool hop cost the proxy ~9% of its CPU and a turn of the event loop per call. Both
 * sides are digests of one length, so the constant-time compare leaks neither the secret's
 * length nor where a guess goes wrong.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { bearerToken } from '../src/credentials.ts';

export class NodeCredentialCheck {
  #credential: string | null = null;
  #digest: Buffer = Buffer.alloc(0);

  /** Whether `authorization` is `Bearer <expected>`. */
  accepts(authorization: string | undefined, expected: string): boolean {
    if (expected !== this.#credential) {
      this.#credential = expected;
      this.#digest = sha256(expected);
    }
    const presented = bearerToken(authorization);
    return presented !== null && timingSafeEqual(sha256(presented), this.#digest);
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
