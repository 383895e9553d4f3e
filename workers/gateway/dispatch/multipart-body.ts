/**
 * Finds the `model` field of a multipart upload without buffering the upload. Bytes are
 * read only until the `model` part has been seen; those bytes are then replayed ahead of
 * the rest of the stream. With `model` ahead of the file (the Python SDK, `curl -F model=…
 * -F file=@…`), only the first few hundred bytes are held; with the file first (the Node
 * SDK's default key order) the file's bytes are held until `model` appears, bounded by the
 * upload cap. The rest is still read by the scanner as it streams to the engine, so a second
 * `model` part further on is refused too.
 */
import { missingModel, ModelFieldScanner } from '../../../src/multipart/model-field-scanner.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { clientStoppedSending } from './client-body.ts';
import { bodyTooLarge } from './read-json.ts';

/** RFC 2046's limit; it also bounds the scanner's work per byte. */
const MAX_BOUNDARY_LENGTH = 70;

export interface MultipartBody {
  model: string;
  /** The whole original body: the held prefix, then the rest as it arrives, capped. */
  stream: ReadableStream<Uint8Array>;
  /**
   * Set when the stream was cut short: over the cap, a form refused further on, or a client
   * that stopped sending. The engine's answer to the shortened body is then moot.
   */
  overLimit: () => ApiError | null;
}

export async function readMultipartModel(request: Request, maxBytes: number): Promise<MultipartBody> {
  const contentType = request.headers.get('content-type') ?? '';
  const boundary = /^multipart\/form-data\s*;.*boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary || boundary.length > MAX_BOUNDARY_LENGTH) {
    throw new ApiError(
      415,
      `This endpoint takes a multipart/form-data upload (with a boundary of 1 to ${MAX_BOUNDARY_LENGTH} characters).`,
      { code: 'unsupported_media_type' },
    );
  }
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw bodyTooLarge(maxBytes);
  if (!request.body) throw missingModel();

  const reader = request.body.getReader();
  const scanner = new ModelFieldScanner(boundary);
  let total = 0;
  /** The next chunk, read through the scanner (with the model once found) and counted against the cap; null at the end. */
  const nextChunk = async (): Promise<{ chunk: Uint8Array; model: string | null } | null> => {
    const { done, value } = await reader.read().catch((cause: unknown) => {
      throw clientStoppedSending(cause);
    });
    if (done) {
      // Some runtimes end the stream quietly when the client goes away mid-body.
      if (total < declared) throw clientStoppedSending(new Error(`${total} of ${declared} bytes arrived`));
      return null;
    }
    total += value.byteLength;
    if (total > maxBytes) throw bodyTooLarge(maxBytes);
    return { chunk: value, model: scanner.push(value) };
  };
  /** After a refusal: a refused form is read to its end within the cap, so a client still sending gets the answer. */
  const stopReading = async (error: ApiError): Promise<void> => {
    try {
      if (error.status === 400 && error.code !== 'client_closed_request') {
        while (total <= maxBytes) {
          const { done, value } = await reader.read();
          if (done) return;
          total += value.byteLength;
        }
      }
      await reader.cancel();
    } catch {
      // The client went away: nobody is left to answer.
    }
  };

  const held: Uint8Array[] = [];
  let model: string | null = null;
  while (model === null) {
    const next = await nextChunk().catch(async (error: ApiError) => {
      await stopReading(error);
      throw error;
    });
    if (!next) throw missingModel();
    held.push(next.chunk);
    model = next.model;
  }

  let cut: ApiError | null = null;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of held) controller.enqueue(chunk);
    },
    async pull(controller) {
      try {
        const next = await nextChunk();
        if (next) return controller.enqueue(next.chunk);
      } catch (error) {
        cut = error as ApiError;
        await stopReading(cut);
      }
      // Ended, not errored, even when cut: workerd logs an errored upload body as an uncaught
      // exception, and `cut` already tells the caller to discard the engine's answer.
      controller.close();
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { model, stream, overLimit: () => cut };
}
