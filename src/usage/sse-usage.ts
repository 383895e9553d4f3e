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
/**
 * A chat/completions chunk, told apart from other events without parsing it. Keys are matched
 * with their quotes and colon: inside a JSON string every quote is escaped, so content that
 * merely mentions a key never matches.
 */
const CHAT_CHUNK = /"choices"\s*:/;
const HAS_USAGE = /"usage"\s*:\s*\{/;
/** What `carriesOutput` finds in a parsed choice: a non-empty text, reasoning or a tool call. */
const CARRIES_OUTPUT =
  /"(?:content|text|reasoning_content|reasoning)"\s*:\s*"[^"]|"tool_calls"\s*:\s*\[\s*\{/;
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
    // One decode per chunk: newlines are single bytes in UTF-8, so the text's events line up
    // one for one with the bytes' events.
    const text = this.decoder.decode(events);
    let strip: boolean[] | null = null;
    let index = 0;
    for (const event of eventTexts(text)) {
      if (this.read(event)) (strip ??= [])[index] = true;
      index++;
    }
    return strip ? keptEvents(events, strip) : events;
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
  private read(event: string): boolean {
    const fields = eventFields(event);
    const data = fields.data;
    if (data === undefined || !data.trimStart().startsWith('{')) return false;
    // Most of a stream is chat chunks without usage: counted without parsing them.
    // (A torn chunk does not end in `}` and goes the slow way, where it fails to parse.)
    if (CHAT_CHUNK.test(data) && !HAS_USAGE.test(data) && data.trimEnd().endsWith('}')) {
      if (CARRIES_OUTPUT.test(data)) this.chunks++;
      return false;
    }
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return false;
    }
    const name = fields.event;
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

/** The events of a text holding only whole events, each with its blank line. */
function* eventTexts(text: string): Generator<string> {
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    if (text.charCodeAt(i - 1) === 10 || (text.charCodeAt(i - 1) === 13 && text.charCodeAt(i - 2) === 10)) {
      yield text.slice(start, i + 1);
      start = i + 1;
    }
  }
  if (start < text.length) yield text.slice(start);
}

/** The bytes of the events not marked in `strip`, cut where `eventTexts` cuts the text. */
function keptEvents(bytes: Uint8Array, strip: boolean[]): Uint8Array {
  const kept: Uint8Array[] = [];
  let start = 0;
  let index = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) {
    if (bytes[i - 1] === 10 || (bytes[i - 1] === 13 && bytes[i - 2] === 10)) {
      if (!strip[index++]) kept.push(bytes.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < bytes.length && !strip[index]) kept.push(bytes.subarray(start));
  return concat(kept);
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
