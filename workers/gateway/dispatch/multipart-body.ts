/**
 * Finds the `model` field of a multipart upload without buffering the upload. Bytes are
 * read only until the `model` part has been seen; those bytes are then replayed ahead of
 * the rest of the stream. With `model` ahead of the file (the Python SDK, `curl -F model=…
 * -F file=@…`), only the first few hundred bytes are held; with the file first (the Node
 * SDK's default key order) the file's bytes are held until `model` appears, bounded by the
 * upload cap.
 */
import { missingModel, ModelFieldScanner } from '../../../src/multipart/model-field-scanner.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { clientStoppedSending } from './client-body.ts';
import { bodyTooLarge } from './read-json.ts';

export interface MultipartBody {
  model: string;
  /** The whole original body: the held prefix, then the rest as it arrives, capped. */
  stream: ReadableStream<Uint8Array>;
  /** Set when the stream was cut for exceeding the cap. */
  overLimit: () => ApiError | null;
}

export async function readMultipartModel(request: Request, maxBytes: number): Promise<MultipartBody> {
  const contentType = request.headers.get('content-type') ?? '';
  const boundary = /^multipart\/form-data\s*;.*boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) {
    throw new ApiError(415, 'This endpoint takes a multipart/form-data upload (with a boundary).', {
      code: 'unsupported_media_type',
    });
  }
  if (Number(request.headers.get('content-length') ?? NaN) > maxBytes) throw bodyTooLarge(maxBytes);
  if (!request.body) throw missingModel();

  const reader = request.body.getReader();
  const held: Uint8Array[] = [];
  const scanner = new ModelFieldScanner(boundary);
  let total = 0;
  let model: string | null = null;
  while (model === null) {
    const { done, value } = await reader.read().catch((cause: unknown) => {
      throw clientStoppedSending(cause);
    });
    if (done) throw missingModel();
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw bodyTooLarge(maxBytes);
    }
    held.push(value);
    model = scanner.push(value);
  }

  let exceeded: ApiError | null = null;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of held) controller.enqueue(chunk);
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      total += value.byteLength;
      if (total > maxBytes) {
        exceeded = bodyTooLarge(maxBytes);
        await reader.cancel();
        return controller.error(exceeded);
      }
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { model, stream, overLimit: () => exceeded };
}
