/**
 * How deeply a JSON text nests, found with one pass over its bytes before it is parsed: a
 * body nested thousands deep costs `JSON.parse` (and everything that walks the result) far
 * more CPU than its size suggests, so it is refused first. Brackets inside strings do not
 * count; the text need not be valid JSON (the parser says what else is wrong).
 */
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Requests nest a few levels; JSON schemas in `tools` and `response_format` a few dozen. */
export const MAX_JSON_DEPTH = 128;

export function jsonNestsDeeperThan(bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      if (++depth > maxDepth) return true;
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
      depth--;
    }
  }
  return false;
}
