/**
 * Finds the `model` field of a multipart upload without buffering the upload. Bytes are
 * read only until the `model` part has been seen; those bytes are then replayed ahead of
 * the rest of the stream. With `model` ahead of the file (the Python SDK, `curl -F model=…
 * -F file=@…`), only the first few hundred bytes are held; with the file first (the Node
 * SDK's default key order) the file's bytes are held until `model` appears, bounded by the
 * upload cap.
 */
import { ApiError } from '../errors.ts';
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
    const { done, value } = await reader.read();
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

function missingModel(): ApiError {
  return new ApiError(400, 'The multipart form has no `model` field.', {
    param: 'model',
    code: 'missing_required_parameter',
  });
}

function latin1(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

const MODEL_HEADER = /content-disposition:\s*form-data;\s*name="model"[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n/gi;
/** Part headers are short; a rescan this far back catches one split across chunks. */
const HEADER_OVERLAP = 1024;

/**
 * Scans a multipart body chunk by chunk for the `model` part. Each push looks only at the
 * new bytes (plus a small overlap), so a large file ahead of `model` costs linear time.
 */
export class ModelFieldScanner {
  private text = ''; // latin1 view of the bytes: one char per byte, so offsets match
  private valueStart = -1;
  private readonly closing: string;

  constructor(boundary: string) {
    this.closing = `\r\n--${boundary}`;
  }

  /** Returns the model once its closing boundary has arrived, else null. */
  push(chunk: Uint8Array): string | null {
    const previousLength = this.text.length;
    this.text += latin1(chunk);
    if (this.valueStart === -1) {
      MODEL_HEADER.lastIndex = Math.max(0, previousLength - HEADER_OVERLAP);
      const header = MODEL_HEADER.exec(this.text);
      if (!header) return null;
      this.valueStart = header.index + header[0].length;
    }
    const from = Math.max(this.valueStart, previousLength - this.closing.length);
    const end = this.text.indexOf(this.closing, from);
    if (end === -1) return null;
    const raw = this.text.slice(this.valueStart, end);
    const value = new TextDecoder().decode(Uint8Array.from(raw, (ch) => ch.charCodeAt(0))).trim();
    if (!value) throw missingModel();
    return value;
  }
}
