/**
 * Property tests of the stream relay: an engine's SSE stream, cut into pieces anywhere (events
 * split mid-way, several in one piece, the usage chunk on its own), reaches the client whole and
 * ends — with the usage chunk the gateway asked for removed when the client did not ask for it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  callAndRead,
  createKeyRecord,
  engine,
  keyInflight,
  poolSnapshot,
  serveEngines,
  uniqueModel,
} from './helpers.ts';

let key: string;
let keyId: string;
let model: string;
let node: { ready: () => Promise<void>; stop: () => Promise<void> };

beforeAll(async () => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
  ({ key, id: keyId } = await createKeyRecord());
  model = uniqueModel('fuzz-relay');
  node = await serveEngines([engine('pieces', model)]);
});

afterAll(async () => {
  await node.stop();
  vi.restoreAllMocks();
});

const event = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
const contentEvent = (text: string) =>
  event({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: text } }] });
const USAGE_EVENT = event({
  id: 'c',
  object: 'chat.completion.chunk',
  choices: [],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
});
const DONE = 'data: [DONE]\n\n';

function piecesOf(text: string, cuts: number[]): string[] {
  const at = [...new Set(cuts.map((c) => Math.floor(c * text.length)))].filter(
    (n) => n > 0 && n < text.length,
  );
  at.sort((a, b) => a - b);
  return [0, ...at].map((start, i) => text.slice(start, at[i] ?? text.length));
}

/** Far enough apart that the gateway reads each piece on its own, as over a real network. */
const PIECE_GAP_MS = 25;

async function relayed(pieces: string[], clientAsksUsage: boolean) {
  return callAndRead(
    '/v1/chat/completions',
    {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        ...(clientAsksUsage ? { stream_options: { include_usage: true } } : {}),
        pieces,
        pieceGapMs: PIECE_GAP_MS,
      }),
    },
    5_000,
  );
}

describe('fuzzing the stream relay', { timeout: 60_000 }, () => {
  it('relays a stream cut at event boundaries whole and ends it', async () => {
    await node.ready();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
        async (contents, cutAfter) => {
          const events = [...contents.map(contentEvent), USAGE_EVENT, DONE];
          // Whole events per piece: a new piece starts after event i when cutAfter[i].
          const pieces: string[] = [''];
          events.forEach((e, i) => {
            pieces[pieces.length - 1] += e;
            if (cutAfter[i] && i < events.length - 1) pieces.push('');
          });
          const res = await relayed(pieces, true);
          expect(res.status).toBe(200);
          expect(res.text).toBe(events.join(''));
        },
      ),
      { numRuns: 40 },
    );
  });

  // A pull that completes no event (an event split over several reads, or the usage chunk it
  // strips) must read on: after two such pulls in a row nothing would pull again.
  it('relays a stream cut anywhere whole, strips the usage it asked for, and ends it', async () => {
    await node.ready();
    const content = contentEvent('hello');
    // Found by the soak on plain workerd: the stripped usage chunk arriving in two reads.
    expect(
      (await relayed([content, USAGE_EVENT.slice(0, 60), USAGE_EVENT.slice(60), DONE], false)).text,
    ).toBe(content + DONE);
    // The same with nothing stripped: one event over three reads.
    const split = [content.slice(0, 10), content.slice(10, 20), content.slice(20)];
    expect((await relayed([content, ...split, DONE], true)).text).toBe(content + content + DONE);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }), { minLength: 1, maxLength: 4 }),
        fc.uniqueArray(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        fc.boolean(),
        async (contents, cuts, clientAsksUsage) => {
          const body = contents.map(contentEvent).join('');
          const text = body + USAGE_EVENT + DONE;
          const res = await relayed(piecesOf(text, cuts), clientAsksUsage);
          expect(res.status).toBe(200);
          expect(res.text).toBe(clientAsksUsage ? text : body + DONE);
        },
      ),
      { numRuns: 40 },
    );
    await vi.waitFor(async () => {
      expect(await keyInflight(keyId)).toBe(0);
      expect((await poolSnapshot(model)).every((e) => e.inflight === 0)).toBe(true);
    });
  });
});
