/**
 * Token ids for the four-character pseudo-tokens, so `/tokenize` and `/detokenize` round-trip and a
 * prompt sent as the ids `/tokenize` returned is the same prompt as its text (same prefix-cache
 * blocks, same output). An ASCII token packs into an id (a leading 1, then seven bits per
 * character); other tokens get a hashed id above that range, which detokenizes as U+FFFD.
 */
import { hash } from 'node:crypto';

const CHAR_BITS = 128;
/** Above every packed id: 1 followed by four 7-bit characters is below 2^29. */
const HASHED_ID_BASE = 2 ** 29;

export function tokenIdOf(token: string): number {
  let id = 1;
  for (let index = 0; index < token.length; index++) {
    const code = token.charCodeAt(index);
    if (code >= CHAR_BITS || token.length > 4) {
      return HASHED_ID_BASE + Number.parseInt(hash('sha1', token, 'hex').slice(0, 6), 16);
    }
    id = id * CHAR_BITS + code;
  }
  return id;
}

/** The token an id stands for: the packed characters, U+FFFD for a hashed id, `#<id>` otherwise. */
export function tokenOfId(id: number): string {
  if (id >= HASHED_ID_BASE && id < HASHED_ID_BASE + 2 ** 24) return '\uFFFD';
  if (id < CHAR_BITS || id >= HASHED_ID_BASE) return `#${id}`;
  let rest = id;
  let text = '';
  while (rest > 1) {
    text = String.fromCharCode(rest % CHAR_BITS) + text;
    rest = Math.floor(rest / CHAR_BITS);
  }
  return rest === 1 ? text : `#${id}`;
}
