/** Reading a body under a cap: exactly the bytes up to the cap, and the source cancelled past it. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, readCapped } from '../../src/bytes.ts';
import { cutAt } from '../support/bytes.ts';

/**
 * A stream that yields `chunks` one per read, only when asked (high-water mark 0), and records
 * how many it handed out and whether it was cancelled.
 */
function source(chunks: Uint8Array[]) {
  const state = { pulled: 0, cancelled: false, closed: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const chunk = chunks[state.pulled];
        if (chunk === undefined) {
          state.closed = true;
          controller.close();
          return;
        }
        state.pulled += 1;
        controller.enqueue(chunk);
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

const body = fc.uint8Array({ maxLength: 300 });
const offsets = fc.array(fc.nat(), { maxLength: 12 });
const cap = fc.nat({ max: 320 });

describe('readCapped', () => {
  it('returns every byte, not over the limit, when the stream fits under or at the cap', async () => {
    await fc.assert(
      fc.asyncProperty(body, offsets, fc.nat({ max: 20 }), async (bytes, cuts, slack) => {
        const { stream, state } = source(cutAt(bytes, cuts));
        const read = await readCapped(stream, bytes.length + slack);
        expect(read.overLimit).toBe(false);
        expect(read.bytes).toEqual(bytes);
        expect(state).toMatchObject({ closed: true, cancelled: false });
      }),
    );
  });

  it('returns exactly the first `cap` bytes, over the limit, and cancels the source when it does not', async () => {
    await fc.assert(
      fc.asyncProperty(
        body.filter((b) => b.length > 0),
        offsets,
        fc.nat(),
        async (bytes, cuts, capSeed) => {
          const max = capSeed % bytes.length; // 0 … length - 1: always over
          const chunks = cutAt(bytes, cuts);
          const { stream, state } = source(chunks);
          const read = await readCapped(stream, max);
          expect(read.overLimit).toBe(true);
          expect(read.bytes).toEqual(bytes.slice(0, max));
          expect(state.cancelled).toBe(true);
          // It stops at the chunk that crosses the cap rather than reading on.
          let seen = 0;
          const crossing = chunks.findIndex((chunk) => (seen += chunk.byteLength) > max);
          expect(state.pulled).toBe(crossing + 1);
        },
      ),
    );
  });

  it('agrees with slicing for any body, chunking and cap', async () => {
    await fc.assert(
      fc.asyncProperty(body, offsets, cap, async (bytes, cuts, max) => {
        const { stream, state } = source(cutAt(bytes, cuts));
        const read = await readCapped(stream, max);
        const over = bytes.length > max;
        expect(read).toEqual({ bytes: over ? bytes.slice(0, max) : bytes, overLimit: over });
        expect(state.cancelled).toBe(over);
      }),
    );
  });

  it('handles an empty stream and a cap of zero', async () => {
    expect(await readCapped(source([]).stream, 0)).toEqual({ bytes: new Uint8Array(), overLimit: false });
    const { stream, state } = source([new Uint8Array(), new Uint8Array([7])]);
    expect(await readCapped(stream, 0)).toEqual({ bytes: new Uint8Array(), overLimit: true });
    expect(state.cancelled).toBe(true);
  });
});

describe('concatBytes', () => {
  it('joins chunks in order', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 10 }), (chunks) => {
        const total = chunks.reduce((n, c) => n + c.byteLength, 0);
        expect(concatBytes(chunks, total)).toEqual(Uint8Array.from(chunks.flatMap((c) => [...c])));
      }),
    );
  });
});
