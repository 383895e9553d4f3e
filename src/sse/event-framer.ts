/**
 * SSE framing at the byte level: cut a relayed event stream at event boundaries, so that a
 * stream that breaks can be ended with a whole error event instead of a torn one, and render
 * the error event the OpenAI SDKs raise (`data: {"error":{…}}`).
 */
import type { OpenAIErrorBody } from '../openai/errors.ts';

/** Holds back the bytes after the last complete SSE event, so only whole events go out. */
export class EventFramer {
  private tail: Uint8Array = new Uint8Array();

  push(chunk: Uint8Array): Uint8Array {
    const bytes = this.tail.byteLength ? join(this.tail, chunk) : chunk;
    const cut = endOfLastEvent(bytes);
    this.tail = bytes.slice(cut);
    return bytes.subarray(0, cut);
  }

  flush(): Uint8Array {
    const rest = this.tail;
    this.tail = new Uint8Array();
    return rest;
  }

  discardPartial(): void {
    this.tail = new Uint8Array();
  }
}

/** Index just past the last blank line (`\n\n` or `\r\n\r\n`), or 0 when there is none. */
function endOfLastEvent(bytes: Uint8Array): number {
  for (let i = bytes.length - 1; i > 0; i--) {
    if (bytes[i] !== 10) continue;
    if (bytes[i - 1] === 10) return i + 1;
    if (bytes[i - 1] === 13 && bytes[i - 2] === 10) return i + 1;
  }
  return 0;
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

/** One SSE event carrying an OpenAI error body. */
export function errorEvent(body: OpenAIErrorBody): Uint8Array {
  return new TextEncoder().encode(`data: ${JSON.stringify(body)}\n\n`);
}
