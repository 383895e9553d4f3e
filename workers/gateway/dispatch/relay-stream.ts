/**
 * Relays an engine's response body to the client chunk by chunk, and is the one place where
 * the stream is rewritten:
 *  - idle timeout between chunks (one watchdog timer per relay, not one per read);
 *  - for SSE, chunks are cut at event boundaries, so that when the engine fails mid-stream
 *    the client gets a whole OpenAI-shaped error event (`data: {"error":{…}}`, which makes the
 *    OpenAI SDKs raise) instead of a torn event or a clean-looking end;
 *  - `onFinish` runs exactly once with how the relay ended (the caller returns the lease).
 * A client disconnect cancels the relay, which aborts the upstream request so the engine
 * stops generating.
 */
import { ApiError } from '../../../src/openai/errors.ts';
import { EventFramer } from '../../../src/sse/event-framer.ts';
import { IdleWatchdog } from '../../../src/sse/idle-watchdog.ts';
import type { LeaseOutcome } from '../../objects/model-pool.ts';
import type { UsageMeter } from './usage-meter.ts';

export interface RelayInput {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  firstChunk: Uint8Array | null;
  isEventStream: boolean;
  idleTimeoutMs: number;
  abortUpstream: (reason: string) => void;
  onFinish: (outcome: LeaseOutcome) => void;
  /** Sees every byte that goes to the client, and may drop the usage chunk it asked for. */
  meter: UsageMeter;
  /** The error event in the client's API's shape (render-error.ts). */
  errorEvent: (error: ApiError) => Uint8Array;
}

export function relayBody(input: RelayInput): ReadableStream<Uint8Array> {
  const framer = input.isEventStream ? new EventFramer() : null;
  const { meter } = input;
  const pass = (chunk: Uint8Array): Uint8Array => {
    if (framer) return meter.events(framer.push(chunk));
    meter.bytes(chunk);
    return chunk;
  };
  let finished = false;
  let idleError: ApiError | null = null;
  const watchdog = new IdleWatchdog(input.idleTimeoutMs, () => {
    idleError = engineIdle(input.idleTimeoutMs);
    // Ends the pending read: the body errors with the abort.
    input.abortUpstream('idle');
  });
  const finish = (outcome: LeaseOutcome) => {
    if (finished) return;
    finished = true;
    watchdog.stop();
    input.onFinish(outcome);
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (input.firstChunk) enqueue(controller, pass(input.firstChunk));
    },
    async pull(controller) {
      try {
        // Read until there is something to send: a pull that enqueues nothing (half an event, or
        // only the usage chunk the gateway strips) is never followed by another one.
        for (;;) {
          watchdog.waiting();
          const { done, value } = await input.reader.read();
          watchdog.received();
          if (done) {
            if (framer) enqueue(controller, meter.events(framer.flush()));
            controller.close();
            finish('ok');
            return;
          }
          const out = pass(value);
          if (out.byteLength > 0) return controller.enqueue(out);
        }
      } catch (cause) {
        input.abortUpstream('relay failed');
        finish('failed');
        const error = idleError ?? (cause instanceof ApiError ? cause : streamInterrupted(cause));
        if (!framer) return controller.error(error);
        framer.discardPartial();
        enqueue(controller, input.errorEvent(error));
        controller.close();
      }
    },
    async cancel() {
      finish('aborted');
      input.abortUpstream('client disconnected');
      await input.reader.cancel().catch(() => {});
    },
  });
}

function enqueue(controller: ReadableStreamDefaultController<Uint8Array>, chunk: Uint8Array): void {
  if (chunk.byteLength > 0) controller.enqueue(chunk);
}

/** What the client is told when the engine's answer broke off after the first byte. */
export function streamInterrupted(cause: unknown): ApiError {
  return new ApiError(502, `The engine's stream broke off: ${(cause as Error)?.message ?? String(cause)}`, {
    code: 'upstream_stream_interrupted',
  });
}

/** What the client is told when the engine went silent mid-answer. */
export function engineIdle(idleTimeoutMs: number): ApiError {
  return new ApiError(504, `The engine sent nothing for ${idleTimeoutMs} ms.`, {
    code: 'upstream_idle_timeout',
  });
}
