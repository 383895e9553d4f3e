/**
 * Relays an answer the node's agent metered (src/protocol/node-metering.ts) through the runtime's
 * native pipe: no JavaScript runs per chunk, which is most of what a stream cost the gateway
 * (docs/decisions/0009-metering-at-the-node.md). The agent already did what relay-stream.ts does
 * for unmetered answers — read the usage, drop the usage chunk the client did not ask for, cut a
 * silent stream, send only whole SSE events — so what is left here is the ending:
 *  - a JSON answer's usage came in a header; nothing to collect. The agent sends one only once it
 *    has all of it, so when the first read brought it whole (`answerInHand`) the engine is done:
 *    it is answered from memory, with no pipe and nothing left to wait for;
 *  - an SSE answer's record is collected from the agent once the pipe is over, and a stream that
 *    did not end well gets the error event the unmetered relay would have sent;
 *  - `onFinish` runs exactly once with how it ended (the caller returns the lease).
 * A client disconnect cancels the pipe, which cancels the upstream body: the agent cuts the engine.
 */
import type { ApiError } from '../../../src/openai/errors.ts';
import { parseUsageHeader, USAGE_HEADER, type MeterRecord } from '../../../src/protocol/node-metering.ts';
import type { LeaseOutcome } from '../../objects/model-pool.ts';
import { engineIdle, streamInterrupted } from './relay-stream.ts';
import type { UsageMeter } from './usage-meter.ts';

export interface NativeRelayInput {
  response: Response;
  /** The reader the first chunk was read with; its lock is handed to the pipe. */
  reader: ReadableStreamDefaultReader<Uint8Array>;
  firstChunk: Uint8Array | null;
  isEventStream: boolean;
  /** Fetches the agent's record of an SSE answer; null when it cannot be had. */
  collect: () => Promise<MeterRecord | null>;
  idleTimeoutMs: number;
  clientSignal: AbortSignal;
  meter: UsageMeter;
  /** The error event in the client's API's shape (render-error.ts). */
  errorEvent: (error: ApiError) => Uint8Array;
  /** The pipe outlives the handler: once the client leaves, only waitUntil keeps its ending running. */
  waitUntil: (promise: Promise<unknown>) => void;
  onFinish: (outcome: LeaseOutcome) => void;
}

/**
 * The whole of a metered JSON answer when the first read brought it all (its content-length):
 * its usage is taken from the header and the upstream body let go. Null when more is to come.
 */
export function answerInHand(
  input: Pick<NativeRelayInput, 'response' | 'reader' | 'firstChunk' | 'isEventStream' | 'meter'>,
): Uint8Array | null {
  const { response, firstChunk } = input;
  if (input.isEventStream || !firstChunk) return null;
  if (Number(response.headers.get('content-length')) !== firstChunk.byteLength) return null;
  input.meter.meteredAtNode(parseUsageHeader(response.headers.get(USAGE_HEADER)));
  // Every byte is read: this ends the body, it cuts nothing.
  input.reader.cancel().catch(() => {});
  return firstChunk;
}

export function relayNatively(input: NativeRelayInput): ReadableStream<Uint8Array> {
  const { readable, writable } = new IdentityTransformStream();
  if (!input.isEventStream)
    input.meter.meteredAtNode(parseUsageHeader(input.response.headers.get(USAGE_HEADER)));
  // The pipe reports through onFinish; nothing may escape as an unhandled rejection.
  input.waitUntil(pipe(input, writable).catch(() => {}));
  return readable;
}

async function pipe(input: NativeRelayInput, writable: WritableStream<Uint8Array>): Promise<void> {
  const writer = writable.getWriter();
  let broke: unknown = null;
  try {
    if (input.firstChunk) await writer.write(input.firstChunk);
    writer.releaseLock();
    input.reader.releaseLock();
    // Kept open (preventClose/preventAbort) so a broken stream can still get its error event.
    await input.response.body!.pipeTo(writable, { preventClose: true, preventAbort: true });
  } catch (cause) {
    broke = cause;
  }
  const tail = writable.getWriter();
  const outcome = await ending(input, broke);
  input.onFinish(outcome.lease);
  try {
    if (outcome.error && !input.isEventStream) return await tail.abort(outcome.error);
    if (outcome.error) await tail.write(input.errorEvent(outcome.error));
    await tail.close();
  } catch {
    // The client has gone: nothing left to tell it.
  }
}

interface Ending {
  lease: LeaseOutcome;
  /** What the client is told, for an answer that broke off. */
  error: ApiError | null;
}

async function ending(input: NativeRelayInput, broke: unknown): Promise<Ending> {
  if (!input.isEventStream) return byThePipe(input, broke);
  const record = await input.collect();
  input.meter.meteredAtNode(record?.usage ?? null, record?.completionChunks ?? 0);
  switch (record?.ending) {
    case 'ok':
      // The agent sent it all: a pipe that broke after that broke on the client's side.
      return { lease: broke === null ? 'ok' : 'aborted', error: null };
    case 'caller_gone':
      return { lease: 'aborted', error: null };
    case 'engine_idle':
      return { lease: 'failed', error: engineIdle(input.idleTimeoutMs) };
    case 'engine_failed':
      return { lease: 'failed', error: streamInterrupted(new Error('the engine stopped mid-answer')) };
    default:
      // No record (the agent is unreachable).
      return byThePipe(input, broke);
  }
}

/** Without the agent's word: a pipe that held is ok; one that broke is the client's or the node's. */
function byThePipe(input: NativeRelayInput, broke: unknown): Ending {
  if (broke === null) return { lease: 'ok', error: null };
  if (input.clientSignal.aborted) return { lease: 'aborted', error: null };
  return { lease: 'failed', error: streamInterrupted(broke) };
}
