/** Reading JSON bodies and writing JSON and server-sent events on plain `node:http`. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { SimError } from './sim-error.ts';

/** Large enough for a long-context prompt; small enough that a runaway client cannot exhaust memory. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

export async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new SimError(`request body exceeds ${MAX_BODY_BYTES} bytes`, { status: 413 });
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new SimError('the request body is not valid JSON', { status: 400, cause });
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

export function endEventStream(response: ServerResponse): void {
  response.end('data: [DONE]\n\n');
}
