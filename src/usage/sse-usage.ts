/**
 * Reads token usage out of a relayed SSE stream as it passes, for the limiter's settlement and
 * for billing: OpenAI-style chat/completions chunks (vLLM's too), Anthropic Messages events and
 * Responses API events. And, when the gateway added `stream_options.include_usage` on its own,
 * removes the usage-only chunk that brought, so the client gets the stream it asked for.
 */
import { concatBytes } from '../bytes.ts';
import { eventFields } from '../sse/event-fields.ts';
import { isRecord, normalizeUsage, type Usage } from './usage.ts';

/** Responses API events that each carry a piece of generated output. */
const RESPONSES_DELTAS = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.reasoning_text.delta',
  'response.reasoning_summary_text.delta',
  'response.function_call_arguments.delta',
]);
/** Responses API events that end a response and carry `response.usage`. */
const RESPONSES_ENDS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

export class SseUsageTap {
  private readonly stripUsageChunk: boolean;
  private readonly decoder = new TextDecoder();
  private last: Usage | null = null;
  /** Anthropic's usage so far, raw: message_start's, overlaid with each message_delta's. */
  private anthropic: Record<string, unknown> | null = null;
  private chunks = 0;

  /**
   * `stripUsageChunk`: the client did not ask for stream_options.include_usage, the gateway
   * did, so the usage-only chunk (an event whose JSON has an empty `choices` array and a
   * `usage`) is removed from what the client gets.
   */
  constructor(options: { stripUsageChunk: boolean }) {
    this.stripUsageChunk = options.stripUsageChunk;
  }

  /**
   * Takes bytes that hold only whole SSE events (the relay cuts at `\n\n` or `\r\n\r\n`) and
   * returns the bytes to send on — the very same array when nothing is stripped. Malformed
   * events are passed through untouched; this never throws.
   */
  push(events: Uint8Array): Uint8Array {
    const kept: Uint8Array[] = [];
    let stripped = false;
    let start = 0;
    for (let i = 0; i <= events.length; i++) {
      const atEnd = i === events.length;
      if (!atEnd && !endsEvent(events, i)) continue;
      const end = atEnd ? i : i + 1;
      if (end === start) break;
      const event = events.subarray(start, end);
      if (this.read(event)) stripped = true;
      else kept.push(event);
      start = end;
    }
    return stripped ? concat(kept) : events;
  }

  /** The last usage the stream reported, or null if it reported none (yet). */
  usage(): Usage | null {
    return this.last;
  }

  /**
   * Completion chunks relayed so far: the fallback count of completion tokens for a cut stream
   * (one chunk ≈ one token in vLLM-style streams).
   */
  completionChunks(): number {
    return this.chunks;
  }

  /** Takes in one event; true when it is the usage chunk to strip. */
  private read(event: Uint8Array): boolean {
    let json: unknown;
    let name: string | undefined;
    try {
      const fields = eventFields(this.decoder.decode(event));
      if (fields.data === undefined || !fields.data.trimStart().startsWith('{')) return false;
      json = JSON.parse(fields.data);
      name = fields.event;
    } catch {
      return false;
    }
    if (!isRecord(json)) return false;

    if (Array.isArray(json.choices)) {
      const usage = normalizeUsage(json.usage);
      if (usage) this.last = usage;
      if (json.choices.some(carriesOutput)) this.chunks++;
      return this.stripUsageChunk && json.choices.length === 0 && isRecord(json.usage);
    }

    const type = typeof json.type === 'string' ? json.type : name;
    if (type === 'content_block_delta' || (type !== undefined && RESPONSES_DELTAS.has(type))) {
      this.chunks++;
    } else if (type === 'message_start') {
      const message = json.message;
      if (isRecord(message) && isRecord(message.usage)) this.anthropicUsage(message.usage, true);
    } else if (type === 'message_delta') {
      if (isRecord(json.usage)) this.anthropicUsage(json.usage, false);
    } else if (type !== undefined && RESPONSES_ENDS.has(type)) {
      const usage = isRecord(json.response) ? normalizeUsage(json.response.usage) : null;
      if (usage) this.last = usage;
    }
    return false;
  }

  /**
   * message_start carries the input counts (and an early output count); each message_delta
   * the cumulative output count, and in newer API versions the input counts again.
   */
  private anthropicUsage(usage: Record<string, unknown>, start: boolean): void {
    const present = Object.entries(usage).filter(([, value]) => value !== null && value !== undefined);
    this.anthropic = { ...(start ? {} : this.anthropic), ...Object.fromEntries(present) };
    const normalized = normalizeUsage(this.anthropic);
    if (normalized) this.last = normalized;
  }
}

/** Whether `bytes[i]` is the `\n` that ends a blank line, i.e. an event. */
function endsEvent(bytes: Uint8Array, i: number): boolean {
  if (bytes[i] !== 10) return false;
  return bytes[i - 1] === 10 || (bytes[i - 1] === 13 && bytes[i - 2] === 10);
}

/** A chat/completions choice that carries generated output: text, reasoning or a tool call. */
function carriesOutput(choice: unknown): boolean {
  if (!isRecord(choice)) return false;
  if (nonEmptyString(choice.text)) return true;
  const delta = choice.delta;
  if (!isRecord(delta)) return false;
  return (
    nonEmptyString(delta.content) ||
    nonEmptyString(delta.reasoning_content) ||
    nonEmptyString(delta.reasoning) ||
    (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0)
  );
}

function nonEmptyString(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return concatBytes(
    parts,
    parts.reduce((total, part) => total + part.byteLength, 0),
  );
}
