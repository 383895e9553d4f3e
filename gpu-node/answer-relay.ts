/**
 * An engine's answer on its way to the gateway. Unless the gateway asked for metering, it passes
 * as it comes. Metered (src/protocol/node-metering.ts), so the gateway's Worker can pass the body
 * on natively:
 *  - JSON: held whole (up to 1 MiB; engines send non-stream answers at once) and sent with its
 *    usage in a header;
 *  - SSE: sent in whole events only, the usage read on the way (and the usage-only chunk the
 *    gateway asked for dropped when the client did not ask), the stream cut when the engine is
 *    silent past the gateway's idle limit; how it ended is kept for the gateway to collect;
 *  - anything else: passed through as it comes.
 */
import type http from 'node:http';
import { concatBytes } from '../src/bytes.ts';
import {
  METERED_HEADER,
  USAGE_HEADER,
  formatUsageHeader,
  type MeterRecord,
  type MeterRequest,
} from '../src/protocol/node-metering.ts';
import { EventFramer } from '../src/sse/event-framer.ts';
import { SseUsageTap } from '../src/usage/sse-usage.ts';
import { usageFromJsonBody } from '../src/usage/usage.ts';
import type { MeterRecords } from './meter-records.ts';

/** The gateway reads usage from JSON answers up to this size; larger ones it charges by estimate. */
const MAX_JSON_USAGE_BYTES = 1024 * 1024;

export interface AnswerInput {
  /** Null: the gateway did not ask (an older gateway), so nothing is metered. */
  meter: MeterRequest | null;
  records: MeterRecords;
  answer: http.IncomingMessage;
  res: http.ServerResponse;
  /** The engine's headers as the proxy passes them on. */
  headers: string[];
  /** Each body byte from the engine is progress (the hung-engine check reads it). */
  onProgress: () => void;
  /** Ends the engine's request (the stream went silent). */
  cutEngine: () => void;
}

export interface RelayedAnswer {
  /** The engine failed after the answer began: note it before the proxy cuts the connection. */
  engineFailed(): void;
}

const NOTHING_TO_NOTE: RelayedAnswer = { engineFailed: () => {} };

export function relayAnswer(input: AnswerInput): RelayedAnswer {
  const { answer, meter } = input;
  const status = answer.statusCode ?? 502;
  if (!meter) {
    passThrough(input, status, input.headers, []);
    return NOTHING_TO_NOTE;
  }
  const headers = [...input.headers, METERED_HEADER, '1'];
  const contentType = String(answer.headers['content-type'] ?? '');
  if (contentType.startsWith('text/event-stream')) return relayEvents(input, meter, status, headers);
  if (/json/i.test(contentType)) relayJson(input, status, headers);
  else passThrough(input, status, headers, []);
  return NOTHING_TO_NOTE;
}

function passThrough(input: AnswerInput, status: number, headers: string[], held: Buffer[]): void {
  const { answer, res } = input;
  res.writeHead(status, headers);
  for (const chunk of held) res.write(chunk);
  let bodyStarted = held.length > 0;
  answer.on('data', () => {
    bodyStarted = true;
    input.onProgress();
  });
  // Headers leave with the first body bytes when those came in the same read (a whole
  // non-stream answer: one write, not two); otherwise at the end of this turn of the loop, so
  // a stream the engine has not begun still shows its headers at once.
  setImmediate(() => {
    if (!bodyStarted && !res.writableEnded && !res.destroyed) res.flushHeaders();
  });
  cutWhenEngineDies(answer, res);
  answer.pipe(res);
}

/** An engine that dies mid-answer must show as a cut, not as a clean end. */
function cutWhenEngineDies(answer: http.IncomingMessage, res: http.ServerResponse): void {
  answer.once('close', () => {
    if (!answer.complete) res.destroy();
  });
}

function relayJson(input: AnswerInput, status: number, headers: string[]): void {
  const { answer, res } = input;
  const held: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    input.onProgress();
    size += chunk.byteLength;
    held.push(chunk);
    if (size <= MAX_JSON_USAGE_BYTES) return;
    // Too large to read for usage: send on what came, and the rest as it comes.
    answer.off('data', onData);
    answer.off('end', onEnd);
    passThrough(input, status, headers, held);
  };
  const onEnd = () => {
    const body = concatBytes(held, size);
    const usage = usageFromJsonBody(body);
    if (usage) headers.push(USAGE_HEADER, formatUsageHeader(usage));
    res.writeHead(status, [...withoutLength(headers), 'content-length', String(body.byteLength)]);
    res.end(body);
  };
  answer.on('data', onData);
  answer.on('end', onEnd);
  cutWhenEngineDies(answer, res);
}

function relayEvents(
  input: AnswerInput,
  meter: MeterRequest,
  status: number,
  headers: string[],
): RelayedAnswer {
  const { answer, res, records } = input;
  const framer = new EventFramer();
  const tap = new SseUsageTap({ stripUsageChunk: meter.stripUsageChunk });
  let ended = false;
  const end = (ending: MeterRecord['ending']) => {
    if (ended) return;
    ended = true;
    clearTimeout(idleTimer);
    records.end(meter.callId, { ending, usage: tap.usage(), completionChunks: tap.completionChunks() });
  };

  // One timer per stream, re-armed only when it fires early (not once per chunk).
  let lastDataAt = performance.now();
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = (ms: number) => {
    idleTimer = setTimeout(() => {
      const silentFor = performance.now() - lastDataAt;
      if (silentFor < meter.idleMs) return armIdle(meter.idleMs - silentFor);
      end('engine_idle');
      input.cutEngine();
      res.destroy();
    }, ms);
  };
  if (meter.idleMs > 0) armIdle(meter.idleMs);

  records.begin(meter.callId);
  res.writeHead(status, headers);
  // A stream the engine has not begun still shows its headers at once.
  res.flushHeaders();
  const send = (events: Uint8Array) => {
    const out = tap.push(events);
    if (out.byteLength > 0 && !res.write(out)) {
      answer.pause();
      res.once('drain', () => answer.resume());
    }
  };
  answer.on('data', (chunk: Buffer) => {
    lastDataAt = performance.now();
    input.onProgress();
    send(framer.push(chunk));
  });
  answer.on('end', () => {
    send(framer.flush());
    end('ok');
    res.end();
  });
  // Only whole events were sent, so cutting the connection here never tears one.
  answer.once('close', () => {
    if (answer.complete) return;
    end('engine_failed');
    res.destroy();
  });
  res.once('close', () => {
    if (!res.writableFinished) end('caller_gone');
  });
  return { engineFailed: () => end('engine_failed') };
}

function withoutLength(headers: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() !== 'content-length') kept.push(headers[i]!, headers[i + 1]!);
  }
  return kept;
}
