/** Reading JSON and multipart bodies and writing JSON, bytes and server-sent events on plain `node:http`. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { SimError } from './sim-error.ts';

/** Large enough for a long-context prompt; small enough that a runaway client cannot exhaust memory. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new SimError(`request body exceeds ${limit} bytes`, { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const text = (await readBody(request, MAX_BODY_BYTES)).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new SimError('the request body is not valid JSON', { status: 400, cause });
  }
}

/**
 * Parses a `multipart/form-data` body with the platform's own parser (undici's, behind
 * `Response.formData()`), so boundaries, quoting and field order are handled as browsers send them.
 */
export async function readFormBody(request: IncomingMessage): Promise<FormData> {
  const contentType = request.headers['content-type'] ?? '';
  if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
    throw new SimError('the request body must be multipart/form-data', { status: 400 });
  }
  const body = await readBody(request, MAX_BODY_BYTES);
  try {
    return await new Response(body, { headers: { 'content-type': contentType } }).formData();
  } catch (cause) {
    throw new SimError('the multipart body could not be parsed', { status: 400, cause });
  }
}

/** Validates a parsed body; the first problem becomes a 400 naming the field at fault. */
export function validateBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) =>
    issue.path.length === 0 ? issue.message : `${issue.path.join('.')}: ${issue.message}`,
  );
  const param = parsed.error.issues[0]?.path.join('.') || null;
  throw new SimError(problems.join('; '), { status: 400, param, cause: parsed.error });
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
  });
  response.end(payload);
}

export function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

export function startEventStream(response: ServerResponse): void {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  });
  // Headers go out now, as vLLM's do, rather than with the first token.
  response.flushHeaders();
}

export function sendEvent(response: ServerResponse, data: unknown): void {
  response.write(`data: ${JSON.stringify(data)}\n\n`);
}

/** An event with a name line, as the Responses and Anthropic streams send them. */
export function sendNamedEvent(response: ServerResponse, event: string, data: unknown): void {
  response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export function endEventStream(response: ServerResponse): void {
  response.end('data: [DONE]\n\n');
}
