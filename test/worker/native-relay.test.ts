/**
 * A metered JSON answer the first read brought whole is answered from memory (native-relay.ts
 * `answerInHand`): the agent sends one only once it has all of it, so the engine is done.
 */
import { describe, expect, it } from 'vitest';
import { answerInHand } from '../../workers/gateway/dispatch/native-relay.ts';
import { UsageMeter } from '../../workers/gateway/dispatch/usage-meter.ts';

const ANSWER = new TextEncoder().encode('{"id":"chatcmpl-1","choices":[]}');

async function firstRead(headers: Record<string, string>, chunks: Uint8Array[]) {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
    },
    cancel() {
      cancelled = true;
    },
  });
  const response = new Response(body, { headers });
  const reader = response.body!.getReader();
  const first = await reader.read();
  return { response, reader, firstChunk: first.value ?? null, cancelled: () => cancelled };
}

describe('answerInHand', () => {
  it('takes a JSON answer whose first read is all its content-length, and its usage from the header', async () => {
    const read = await firstRead(
      {
        'content-type': 'application/json',
        'content-length': String(ANSWER.byteLength),
        'x-switchyard-usage': '30,20,5',
      },
      [ANSWER],
    );
    const meter = new UsageMeter(7, false);
    meter.answerStarted(null);
    expect(answerInHand({ ...read, isEventStream: false, meter })).toBe(read.firstChunk);
    expect(meter.result().usage).toEqual({ promptTokens: 30, completionTokens: 20, cachedTokens: 5 });
    await Promise.resolve();
    expect(read.cancelled()).toBe(true);
  });

  it('leaves the pipe to it when more is to come, when the length is unknown, and for event streams', async () => {
    const half = ANSWER.subarray(0, 10);
    const cases: Array<{ headers: Record<string, string>; chunks: Uint8Array[]; isEventStream: boolean }> = [
      {
        headers: { 'content-length': String(ANSWER.byteLength) },
        chunks: [half, ANSWER.subarray(10)],
        isEventStream: false,
      },
      { headers: {}, chunks: [ANSWER], isEventStream: false },
      { headers: { 'content-length': String(ANSWER.byteLength) }, chunks: [ANSWER], isEventStream: true },
    ];
    for (const { headers, chunks, isEventStream } of cases) {
      const read = await firstRead(headers, chunks);
      const meter = new UsageMeter(7, false);
      meter.answerStarted(null);
      expect(answerInHand({ ...read, isEventStream, meter })).toBeNull();
      expect(read.cancelled()).toBe(false);
      expect(meter.result().usage).toBeNull();
    }
  });
});
