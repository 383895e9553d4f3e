/**
 * Finds the value of the `model` field in a multipart/form-data body as it streams past,
 * chunk by chunk, without holding more than it must.
 */
import { ApiError } from '../openai/errors.ts';
import { MAX_MODEL_NAME_LENGTH } from '../openai/request-schemas.ts';

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

const MODEL_HEADER = /content-disposition:\s*form-data;\s*name="model"[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n/i;
/** Part headers are short; this much of the previous chunks is kept to catch one split across chunks. */
const HEADER_OVERLAP = 1024;

/**
 * Scans a multipart body chunk by chunk for the `model` part. Work and memory are linear in
 * the bytes pushed: before the part's headers are found only the last `HEADER_OVERLAP`
 * characters are kept besides the new chunk, and the value is never held past the longest
 * model name (a longer one is refused).
 */
export class ModelFieldScanner {
  /** Latin-1 view of the bytes (one char per byte, so any byte sequence survives). */
  private carry = '';
  private value: string | null = null;
  private readonly closing: string;

  constructor(boundary: string) {
    this.closing = `\r\n--${boundary}`;
  }

  /** Returns the model once its closing boundary has arrived, else null. */
  push(chunk: Uint8Array): string | null {
    if (this.value === null) {
      const window = this.carry + latin1(chunk);
      const header = MODEL_HEADER.exec(window);
      if (!header) {
        this.carry = window.slice(-HEADER_OVERLAP);
        return null;
      }
      this.carry = '';
      this.value = window.slice(header.index + header[0].length);
    } else {
      this.value += latin1(chunk);
    }
    const end = this.value.indexOf(this.closing);
    if (end === -1) {
      if (this.value.length > MAX_MODEL_NAME_LENGTH * 4 + this.closing.length) throw modelTooLong();
      return null;
    }
    const raw = this.value.slice(0, end);
    const model = new TextDecoder().decode(Uint8Array.from(raw, (ch) => ch.charCodeAt(0))).trim();
    if (!model) throw missingModel();
    if (model.length > MAX_MODEL_NAME_LENGTH) throw modelTooLong();
    return model;
  }
}

function modelTooLong(): ApiError {
  return new ApiError(400, `The \`model\` field is longer than ${MAX_MODEL_NAME_LENGTH} characters.`, {
    param: 'model',
    code: 'invalid_value',
  });
}
