/**
 * Asking a streaming engine for usage. Without `stream_options.include_usage` an OpenAI-style
 * stream reports no token counts at all, and the limiter and billing need them; so the gateway
 * asks on the client's behalf — and strips the extra chunk again (see SseUsageTap).
 */
import { isRecord } from './usage.ts';

/** For a streaming chat/completions body: does it already ask for usage (stream_options.include_usage === true)? */
export function asksForStreamUsage(body: Record<string, unknown>): boolean {
  const options = body.stream_options;
  return isRecord(options) && options.include_usage === true;
}

const OPEN_BRACE = 0x7b;
const USAGE_MEMBER = new TextEncoder().encode('"stream_options":{"include_usage":true},');

/**
 * The client's body asking for stream usage too. When it has no `stream_options`, the member is
 * spliced in after the opening brace, so every other byte reaches the engine as the client sent
 * it (a re-serialization would reorder nothing but could round integers past 2^53, like a
 * `seed`). Only a body with its own `stream_options` is re-serialized, to add the one field.
 */
export function withStreamUsage(bytes: Uint8Array, body: Record<string, unknown>): Uint8Array {
  if (body.stream_options === undefined) {
    const brace = bytes.indexOf(OPEN_BRACE);
    const out = new Uint8Array(bytes.byteLength + USAGE_MEMBER.byteLength);
    out.set(bytes.subarray(0, brace + 1));
    out.set(USAGE_MEMBER, brace + 1);
    out.set(bytes.subarray(brace + 1), brace + 1 + USAGE_MEMBER.byteLength);
    return hasMembersAfter(out, brace + 1 + USAGE_MEMBER.byteLength) ? out : withoutTrailingComma(out, brace);
  }
  const options = isRecord(body.stream_options) ? body.stream_options : {};
  const rewritten = { ...body, stream_options: { ...options, include_usage: true } };
  return new TextEncoder().encode(JSON.stringify(rewritten));
}

/** False for `{}` (only white space before the closing brace): the spliced comma must go. */
function hasMembersAfter(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    return byte !== 0x7d;
  }
  return false;
}

function withoutTrailingComma(bytes: Uint8Array, brace: number): Uint8Array {
  const comma = brace + USAGE_MEMBER.byteLength;
  return new Uint8Array([...bytes.subarray(0, comma), ...bytes.subarray(comma + 1)]);
}
