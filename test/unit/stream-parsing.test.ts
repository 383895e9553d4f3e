/**
 * The two places the gateway looks inside a stream — SSE event boundaries in responses and
 * the `model` part of multipart uploads — must not depend on where the network cut the chunks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelFieldScanner } from '../../src/multipart/model-field-scanner.ts';
import { EventFramer } from '../../src/sse/event-framer.ts';
import { cutAt } from '../support/bytes.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('EventFramer', () => {
  const events = fc.array(
    fc.record({
      data: fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ' ')),
      crlf: fc.boolean(),
    }),
    { minLength: 1, maxLength: 8 },
  );

  it('passes only whole events, and everything once flushed, however the stream is cut', () => {
    fc.assert(
      fc.property(events, fc.array(fc.nat(), { maxLength: 12 }), (list, offsets) => {
        const text = list.map((e) => (e.crlf ? `data: ${e.data}\r\n\r\n` : `data: ${e.data}\n\n`)).join('');
        const framer = new EventFramer();
        let out = '';
        for (const chunk of cutAt(enc.encode(text), offsets)) {
          const passed = dec.decode(framer.push(chunk));
          if (passed) expect(/(\n\n|\r\n\r\n)$/.test(passed)).toBe(true);
          out += passed;
        }
        expect(out + dec.decode(framer.flush())).toBe(text);
      }),
    );
  });

  it('drops a torn event so an error event can follow cleanly', () => {
    const framer = new EventFramer();
    expect(dec.decode(framer.push(enc.encode('data: {"a":1}\n\ndata: {"b"')))).toBe('data: {"a":1}\n\n');
    framer.discardPartial();
    expect(framer.flush().byteLength).toBe(0);
  });
});

describe('ModelFieldScanner', () => {
  const boundary = 'xYz123';
  const form = (parts: Array<[string, string]>) =>
    parts
      .map(
        ([name, value]) =>
          `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
      )
      .join('') + `--${boundary}--\r\n`;

  it('finds the model wherever the chunks are cut and wherever the part stands', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 0, maxLength: 300 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 20 }),
        (file, modelFirst, offsets) => {
          const parts: Array<[string, string]> = [
            ['file', file.replaceAll(boundary, '')],
            ['model', 'whisper-large-v3'],
          ];
          if (modelFirst) parts.reverse();
          const scanner = new ModelFieldScanner(boundary);
          let found: string | null = null;
          for (const chunk of cutAt(enc.encode(form(parts)), offsets)) found ??= scanner.push(chunk);
          expect(found).toBe('whisper-large-v3');
        },
      ),
    );
  });

  it('waits for the closing boundary before answering', () => {
    const scanner = new ModelFieldScanner(boundary);
    expect(
      scanner.push(enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhis`)),
    ).toBeNull();
    expect(scanner.push(enc.encode(`per\r\n--${boundary}--\r\n`))).toBe('whisper');
  });

  it('finds the model after a 20 MB file in linear time, holding only a small window', () => {
    const scanner = new ModelFieldScanner(boundary);
    const head = enc.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n`,
    );
    expect(scanner.push(head)).toBeNull();
    const block = new Uint8Array(64 * 1024).fill(97);
    for (let sent = 0; sent < 20 * 1024 * 1024; sent += block.byteLength)
      expect(scanner.push(block)).toBeNull();
    const tail = `\r\n--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--${boundary}--\r\n`;
    expect(scanner.push(enc.encode(tail))).toBe('whisper-1');
  });

  it('refuses a model name longer than 256 characters without holding it', () => {
    const scanner = new ModelFieldScanner(boundary);
    scanner.push(enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n`));
    expect(() => {
      for (let i = 0; i < 100; i++) scanner.push(enc.encode('m'.repeat(1024)));
    }).toThrow(/longer than 256/);
    const exact = new ModelFieldScanner(boundary);
    const name = 'n'.repeat(257);
    expect(() => exact.push(enc.encode(form([['model', name]])))).toThrow(/longer than 256/);
  });
});
