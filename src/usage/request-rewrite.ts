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

/** A copy of `body` with stream_options.include_usage: true (other stream_options fields kept), serialized as UTF-8 JSON bytes. */
export function withStreamUsage(body: Record<string, unknown>): Uint8Array {
  const options = isRecord(body.stream_options) ? body.stream_options : {};
  const rewritten = { ...body, stream_options: { ...options, include_usage: true } };
  return new TextEncoder().encode(JSON.stringify(rewritten));
}
