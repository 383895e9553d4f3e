/**
 * Watches one relayed answer for what it cost: the engine's `usage` (from a JSON body, or from
 * the SSE stream, where the usage chunk the gateway asked for on the client's behalf is
 * stripped again), the completion chunks relayed (what a cut stream is charged for), and the
 * time to the first byte.
 */
import { concatBytes } from '../../../src/bytes.ts';
import { SseUsageTap } from '../../../src/usage/sse-usage.ts';
import { usageFromJsonBody, type Usage } from '../../../src/usage/usage.ts';

/** A JSON answer larger than this is not read for usage (the prompt estimate is charged). */
const MAX_JSON_USAGE_BYTES = 1024 * 1024;

export interface Metered {
  usage: Usage | null;
  /** What to charge when the engine reported no usage: the prompt estimate and the chunks relayed. */
  fallback: Usage;
  ttftMs: number | null;
}

export class UsageMeter {
  private readonly startedAt = Date.now();
  private firstByteAt: number | null = null;
  private sse: SseUsageTap | null = null;
  private json: Uint8Array[] | null = null;
  private jsonBytes = 0;
  private readonly promptEstimate: number;
  /** The gateway added `stream_options.include_usage`; the client did not ask for it. */
  readonly stripUsageChunk: boolean;
  /** What the node's agent metered (src/protocol/node-metering.ts), when it did. */
  private atNode: { usage: Usage | null; completionChunks: number } | null = null;

  /** `stripUsageChunk`: the gateway added `stream_options.include_usage`; the client did not ask for it. */
  constructor(promptEstimate: number, stripUsageChunk: boolean) {
    this.promptEstimate = promptEstimate;
    this.stripUsageChunk = stripUsageChunk;
  }

  /**
   * Called once the answer's headers are in: how its body will be read. Null: the node's agent
   * meters it (`meteredAtNode`), and the body passes unread.
   */
  answerStarted(contentType: string | null): void {
    this.firstByteAt ??= Date.now();
    if (contentType === null) return;
    if (contentType.startsWith('text/event-stream'))
      this.sse = new SseUsageTap({ stripUsageChunk: this.stripUsageChunk });
    else if (/json/i.test(contentType)) this.json = [];
  }

  /** Whole SSE events on their way to the client; returns what to send. */
  events(bytes: Uint8Array): Uint8Array {
    return this.sse ? this.sse.push(bytes) : bytes;
  }

  /** Raw body bytes of a non-SSE answer. */
  bytes(chunk: Uint8Array): void {
    if (!this.json) return;
    this.jsonBytes += chunk.byteLength;
    if (this.jsonBytes > MAX_JSON_USAGE_BYTES) this.json = null;
    else this.json.push(chunk);
  }

  /** The body passes natively: its cost is what the agent metered, not what this meter saw. */
  meteredAtNode(usage: Usage | null, completionChunks = 0): void {
    this.atNode = { usage, completionChunks };
  }

  result(): Metered {
    const ttftMs = this.firstByteAt === null ? null : this.firstByteAt - this.startedAt;
    const usage =
      this.atNode?.usage ??
      this.sse?.usage() ??
      (this.json ? usageFromJsonBody(concatBytes(this.json, this.jsonBytes)) : null);
    const fallback = {
      promptTokens: this.promptEstimate,
      completionTokens: this.atNode?.completionChunks ?? this.sse?.completionChunks() ?? 0,
      cachedTokens: 0,
    };
    return { usage, fallback, ttftMs };
  }
}
