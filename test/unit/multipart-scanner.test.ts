/**
 * The multipart scanner must read the `model` of a form as an engine's parser would: a part
 * only where a delimiter line opens it, its headers parsed properly, and a form with two
 * `model` parts refused — whatever the chunking, in time linear in the body.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelFieldScanner } from '../../src/multipart/model-field-scanner.ts';
import { dispositionNames } from '../../src/multipart/part-headers.ts';
import { cutAt } from '../support/bytes.ts';

const enc = new TextEncoder();
const BOUNDARY = 'b0undary-42';

/** The model, or the refusal's message, after pushing `chunks` and then the end of the body. */
function outcome(chunks: Uint8Array[]): string {
  const scanner = new ModelFieldScanner(BOUNDARY);
  let model: string | null = null;
  try {
    for (const chunk of chunks) model = scanner.push(chunk);
  } catch (error) {
    return `refused: ${(error as Error).message}`;
  }
  return model ?? 'no model yet';
}

interface Part {
  /** The Content-Disposition line, as written. */
  disposition: string;
  value: string;
}

function form(parts: Part[], epilogue = ''): Uint8Array {
  const body = parts.map((p) => `--${BOUNDARY}\r\n${p.disposition}\r\n\r\n${p.value}\r\n`).join('');
  return enc.encode(`${body}--${BOUNDARY}--\r\n${epilogue}`);
}

const modelPart = (value: string): Part => ({
  disposition: 'Content-Disposition: form-data; name="model"',
  value,
});

/** Text an attacker might hide in a file: part headers, but never after a real delimiter. */
const trap = fc.constantFrom(
  'Content-Disposition: form-data; name="model"\r\n\r\nspoofed\r\n',
  `\r\nContent-Disposition: form-data; name="model"\r\n\r\nspoofed`,
  `x--${BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\nspoofed\r\n`,
  `\n--${BOUNDARY}\r\nContent-Disposition: form-data; name=model\r\n\r\nspoofed\r\n`,
  `\r\n-${BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\nspoofed\r\n`,
  `\r\n--${BOUNDARY.slice(0, -1)}\r\nContent-Disposition: form-data; name="model"\r\n\r\nspoofed\r\n`,
);
const fileContent = fc
  .tuple(fc.string({ unit: 'binary', maxLength: 300 }), trap, fc.string({ maxLength: 300 }))
  .map(([before, hidden, after]) => before + hidden + after)
  .filter((text) => !text.includes(`\r\n--${BOUNDARY}`));
const filePart = fileContent.map((value): Part => ({
  disposition: 'Content-Disposition: form-data; name="file"; filename="a.wav"',
  value,
}));
/** The ways a part can say it is `model`: quoted or not, any case of header and parameter. */
const modelDisposition = fc.constantFrom(
  'Content-Disposition: form-data; name="model"',
  'content-disposition: form-data; name=model',
  'CONTENT-DISPOSITION: form-data; NAME="model"',
  'Content-Disposition:form-data;name="model"',
  'Content-Disposition: form-data; filename="m.txt"; name="model"',
  'Content-Disposition: form-data; name = "model" ',
  "Content-Disposition: form-data; name*=utf-8''model",
  'Content-Disposition: form-data;\r\n name="model"',
  'Content-Type: text/plain\r\nContent-Disposition: form-data; name="mo\\del"',
);
const otherDisposition = fc.constantFrom(
  'Content-Disposition: form-data; name="language"',
  'Content-Disposition: form-data; name="Model"',
  'Content-Disposition: form-data; name="models"',
  'Content-Disposition: form-data; filename="name=model"; name="x"',
  'Content-Disposition: form-data; name="model_"',
);
const modelName = fc.stringMatching(/^[a-z][a-z0-9.-]{0,30}$/);
const offsets = fc.array(fc.nat(), { maxLength: 30 });

describe('ModelFieldScanner', () => {
  it('gives the same answer however the body is cut', () => {
    const part = fc.oneof(
      filePart,
      fc.tuple(modelDisposition, modelName).map(([disposition, value]): Part => ({ disposition, value })),
      fc.tuple(otherDisposition, modelName).map(([disposition, value]): Part => ({ disposition, value })),
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 5 }), offsets, (parts, cuts) => {
        const body = form(parts);
        expect(outcome(cutAt(body, cuts))).toBe(outcome([body]));
      }),
      { numRuns: 2_000 },
    );
  });

  it('finds the one model part and nothing inside a file, wherever the file stands', () => {
    fc.assert(
      fc.property(
        fc.array(filePart, { minLength: 1, maxLength: 3 }),
        modelDisposition,
        modelName,
        fc.nat(),
        offsets,
        (files, disposition, name, at, cuts) => {
          const parts = [...files];
          parts.splice(at % (files.length + 1), 0, { disposition, value: name });
          expect(outcome(cutAt(form(parts), cuts))).toBe(name);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('refuses a second model part, however it is written and however the body is cut', () => {
    fc.assert(
      fc.property(
        modelName,
        modelDisposition,
        modelName,
        fc.option(filePart, { nil: undefined }),
        offsets,
        (first, disposition, second, file, cuts) => {
          const parts = [modelPart(first), ...(file ? [file] : []), { disposition, value: second }];
          expect(outcome(cutAt(form(parts), cuts))).toMatch(/more than one `model` field/);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('says nothing of a form with no model part, and refuses it at its closing delimiter', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            filePart,
            fc
              .tuple(otherDisposition, modelName)
              .map(([disposition, value]): Part => ({ disposition, value })),
          ),
          { maxLength: 4 },
        ),
        offsets,
        (parts, cuts) => {
          const body = form(parts);
          expect(outcome(cutAt(body.slice(0, -2 - BOUNDARY.length - 4), cuts))).toBe('no model yet');
          expect(outcome(cutAt(body, cuts))).toMatch(/no `model` field/);
        },
      ),
    );
  });

  it('reads a model name in any script, whatever bytes its UTF-8 holds', () => {
    const name = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 60 })
      .map((text) => text.trim())
      .filter((text) => text.length > 0 && !text.includes('\r\n--'));
    fc.assert(
      fc.property(name, offsets, (model, cuts) => {
        expect(outcome(cutAt(form([modelPart(model)]), cuts))).toBe(model);
      }),
    );
    expect(outcome([form([modelPart('modèle-€-\u0085')])])).toBe('modèle-€-\u0085');
  });

  it('ignores the epilogue after the closing delimiter', () => {
    const epilogue = `\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\nspoofed\r\n`;
    expect(outcome([form([modelPart('whisper-1')], epilogue)])).toBe('whisper-1');
  });

  it('lets blank lines, and nothing else, stand before the first delimiter', () => {
    const body = form([modelPart('whisper-1')]);
    expect(outcome([enc.encode('\r\n\r\n'), body])).toBe('whisper-1');
    for (const preamble of ['hello\r\n', '\n', ' ', `x--${BOUNDARY}\r\n`]) {
      expect(outcome([enc.encode(preamble), body])).toMatch(/does not begin with its boundary/);
    }
  });

  it('refuses what parsers read differently: padding after a boundary, bare CR or LF, nameless headers, a part opening with its boundary', () => {
    const model = 'Content-Disposition: form-data; name="model"';
    const malformed = [
      `--${BOUNDARY} \r\n${model}\r\n\r\nwhisper-1\r\n--${BOUNDARY}--\r\n`,
      `--${BOUNDARY}\r\n${model}\r\n\r\nwhisper-1\r\n--${BOUNDARY}x\r\n`,
      `--${BOUNDARY}\r\n${model}\nX-Other: 1\r\n\r\nwhisper-1\r\n--${BOUNDARY}--\r\n`,
      `--${BOUNDARY}\r\nnot a header\r\n${model}\r\n\r\nwhisper-1\r\n--${BOUNDARY}--\r\n`,
      `--${BOUNDARY}\r\nX-Long: ${'a'.repeat(9_000)}\r\n\r\nwhisper-1\r\n--${BOUNDARY}--\r\n`,
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\n\r\n--${BOUNDARY}\r\n${model}\r\n\r\nx\r\n--${BOUNDARY}--\r\n`,
    ];
    for (const body of malformed)
      expect(outcome([enc.encode(body)])).toMatch(/^refused: The multipart form is malformed/);
  });

  it('refuses a model part with a transfer encoding an engine might decode', () => {
    const body = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\nContent-Transfer-Encoding: base64\r\n\r\nc2VjcmV0\r\n--${BOUNDARY}--\r\n`;
    expect(outcome([enc.encode(body)])).toMatch(/transfer encoding/);
    expect(
      outcome([
        form([
          {
            ...modelPart('whisper-1'),
            disposition: `${modelPart('').disposition}\r\nContent-Transfer-Encoding: 8bit`,
          },
        ]),
      ]),
    ).toBe('whisper-1');
  });

  it('reads a form with 20 MB of near-delimiters and header text in linear time', { timeout: 30_000 }, () => {
    const near = enc.encode(
      `\r\n--${BOUNDARY.slice(0, -1)}\r\nContent-Disposition: form-data; name="model"\r\n\r\n`.repeat(200),
    );
    const scanner = new ModelFieldScanner(BOUNDARY);
    const started = performance.now();
    // Under a generous bound, for a loaded machine: linear takes about 0.3 s here, the old quadratic scan a minute.
    scanner.push(enc.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\n\r\n`));
    for (let sent = 0; sent < 20 * 1024 * 1024; sent += near.byteLength)
      expect(scanner.push(near)).toBeNull();
    const headers = enc.encode(`\r\n--${BOUNDARY}\r\nX-Pad: ${'p'.repeat(8_000)}\r\n`);
    for (const byte of headers) scanner.push(Uint8Array.of(byte));
    expect(
      scanner.push(
        enc.encode(`Content-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--${BOUNDARY}--`),
      ),
    ).toBe('whisper-1');
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});

describe('dispositionNames', () => {
  it('reads quoted, unquoted, escaped and RFC 5987 names, and nothing from other parameters', () => {
    expect(dispositionNames(' form-data; name="model"')).toContain('model');
    expect(dispositionNames(' form-data; NAME=model ; filename="a"')).toContain('model');
    expect(dispositionNames(' form-data; name="mo\\del"')).toContain('model');
    expect(dispositionNames(" form-data; name*=UTF-8'en'mod%65l")).toContain('model');
    expect(dispositionNames(' form-data; filename="x; name=model"; name="file"')).toEqual(['file', 'file']);
    expect(dispositionNames(' form-data')).toEqual([]);
  });
});
