/**
 * The upload stream handed to the engine when it has to be cut short (over the cap, a form
 * refused further on, a client that stopped sending): it ends instead of erroring, because
 * workerd logs an upload body that errors under `fetch` as three "uncaught exception" lines,
 * and the reason is kept for the caller, which discards the engine's answer.
 */
import { describe, expect, it } from 'vitest';
import { readMultipartModel } from '../../workers/gateway/dispatch/multipart-body.ts';
import { joinBytes } from '../support/bytes.ts';

const enc = new TextEncoder();
const BOUNDARY = 'cut-b0undary';
const CAP = 100_000;
const modelPart = (model: string) =>
  enc.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\n${model}\r\n`);
const fileHead = enc.encode(
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n`,
);

/** `head`, then `fileBytes` zero bytes in 8 KB chunks, then `tail`, or an error instead of the tail. */
function upload(head: Uint8Array[], fileBytes: number, tail: Uint8Array | Error): Request {
  const chunks = [...head];
  for (let sent = 0; sent < fileBytes; sent += 8192)
    chunks.push(new Uint8Array(Math.min(8192, fileBytes - sent)));
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks.shift();
      if (chunk) return controller.enqueue(chunk);
      if (tail instanceof Error) return controller.error(tail);
      controller.enqueue(tail);
      controller.close();
    },
  });
  return new Request('https://gateway.test/v1/audio/transcriptions', {
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    body,
  });
}

/** Reads the engine's side of the upload to its end: the byte count, or the error it raised. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<number | unknown> {
  let bytes = 0;
  try {
    for await (const chunk of stream) bytes += chunk.byteLength;
    return bytes;
  } catch (error) {
    return error;
  }
}

describe('the upload stream the engine reads', () => {
  it('passes a good upload whole and ends it', async () => {
    const closing = enc.encode(`\r\n--${BOUNDARY}--\r\n`);
    const body = await readMultipartModel(upload([modelPart('whisper-1'), fileHead], 50_000, closing), CAP);
    expect(body.model).toBe('whisper-1');
    const sent = modelPart('whisper-1').byteLength + fileHead.byteLength + 50_000 + closing.byteLength;
    expect(await drain(body.stream)).toBe(sent);
    expect(body.overLimit()).toBeNull();
  });

  it('ends, without an error, when the upload passes the cap, and says 413', async () => {
    const body = await readMultipartModel(
      upload([modelPart('whisper-1'), fileHead], 3 * CAP, new Uint8Array()),
      CAP,
    );
    expect(typeof (await drain(body.stream))).toBe('number');
    expect(body.overLimit()).toMatchObject({ status: 413, code: 'request_too_large' });
  });

  it('ends, without an error, at a second model part, and says 400 param model', async () => {
    const second = joinBytes([
      enc.encode('\r\n'),
      modelPart('secret-adapter'),
      enc.encode(`--${BOUNDARY}--\r\n`),
    ]);
    const body = await readMultipartModel(upload([modelPart('whisper-1'), fileHead], 50_000, second), CAP);
    const read = await drain(body.stream);
    expect(typeof read).toBe('number');
    expect(read as number).toBeLessThan(modelPart('x').byteLength + fileHead.byteLength + 50_000 + 40);
    expect(body.overLimit()).toMatchObject({ status: 400, param: 'model' });
  });

  it('ends, without an error, when the client stops sending, and says so', async () => {
    const gone = new Error('the client went away');
    const body = await readMultipartModel(upload([modelPart('whisper-1'), fileHead], 50_000, gone), CAP);
    expect(typeof (await drain(body.stream))).toBe('number');
    expect(body.overLimit()).toMatchObject({ status: 400, code: 'client_closed_request' });
  });
});
