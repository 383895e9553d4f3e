/**
 * Reads a JSON request body under a byte cap and validates the fields the gateway uses.
 * The bytes are kept as they came: they are what the engine receives, so fields the
 * gateway does not know reach it unchanged.
 */
import * as z from '../../../src/zod-mini.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import { readCapped } from '../../../src/bytes.ts';
import { clientStoppedSending } from './client-body.ts';
import { jsonNestsDeeperThan, MAX_JSON_DEPTH } from '../../../src/json-depth.ts';

export interface JsonBody<T> {
  bytes: Uint8Array;
  fields: T;
}

export async function readJsonBody<S extends z.core.$ZodType>(
  request: Request,
  schema: S,
  maxBytes: number,
): Promise<JsonBody<z.infer<S>>> {
  const contentType = request.headers.get('content-type');
  if (contentType && !/^application\/([\w.+-]*\+)?json\b/i.test(contentType)) {
    throw new ApiError(
      415,
      `Unsupported content type "${contentType}": send Content-Type: application/json.`,
      {
        code: 'unsupported_media_type',
      },
    );
  }
  const bytes = await readBody(request, maxBytes);
  return { bytes, fields: parseJsonBody(bytes, schema) };
}

/** Decodes a JSON object and validates it with `schema`, or throws the 400 that says why not. */
export function parseJsonBody<S extends z.core.$ZodType>(bytes: Uint8Array, schema: S): z.infer<S> {
  if (jsonNestsDeeperThan(bytes, MAX_JSON_DEPTH)) {
    throw new ApiError(400, `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`, {
      code: 'invalid_json',
    });
  }
  let parsed: unknown = {};
  try {
    // An empty body is an empty object: the routes then say which field is missing.
    if (bytes.byteLength > 0) parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new ApiError(400, `The request body is not valid JSON: ${(cause as Error).message}`, {
      code: 'invalid_json',
      cause,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(400, 'The request body must be a JSON object.', { code: 'invalid_json' });
  }
  return validated(schema, parsed);
}

/** Parses `value` with `schema`, or throws the 400 that names the first offending field. */
export function validated<S extends z.core.$ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
  const param = path.map(String).join('.') || null;
  const message = issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message;
  throw new ApiError(400, param ? `Invalid \`${param}\`: ${message}` : message, {
    param,
    code:
      issue.code === 'unrecognized_keys'
        ? 'unknown_parameter'
        : valueAt(value, path) === undefined
          ? 'missing_required_parameter'
          : 'invalid_value',
  });
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

export function bodyTooLarge(maxBytes: number): ApiError {
  return new ApiError(413, `The request body is larger than the gateway accepts (${maxBytes} bytes).`, {
    code: 'request_too_large',
  });
}

async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw bodyTooLarge(maxBytes);
  if (!request.body) return new Uint8Array();
  const { bytes, overLimit } = await readCapped(request.body, maxBytes).catch((cause: unknown) => {
    throw clientStoppedSending(cause);
  });
  if (overLimit) throw bodyTooLarge(maxBytes);
  // Fewer bytes than announced: the client went away mid-body (some runtimes end the stream quietly).
  if (bytes.byteLength < declared)
    throw clientStoppedSending(new Error(`${bytes.byteLength} of ${declared} bytes arrived`));
  return bytes;
}
