/**
 * Finds the value of the `model` field in a multipart/form-data body as it streams past,
 * chunk by chunk, without holding more than it must.
 */
import { ApiError } from '../openai/errors.ts';

export function missingModel(): ApiError {
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
