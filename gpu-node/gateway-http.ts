/**
 * One HTTP call to the gateway's node API, for the heartbeat loop and for the one-shot commands
 * (`check`'s dry run, `status`): JSON both ways, a bounded wait, and every failure a
 * GatewayError saying whether the gateway answered (status, OpenAI-shaped `code`) or not at all.
 */
import * as z from 'zod';
import { withDeadline } from './deadline.ts';
import { type PlainAnswer, plainRequest } from './plain-http.ts';

export class GatewayError extends Error {
  /** HTTP status, or null when the gateway could not be reached at all. */
  readonly status: number | null;
  /** `error.code` from the gateway's OpenAI-shaped body, when it sent one. */
  readonly code: string | null;

  constructor(message: string, details: { status: number | null; code: string | null; cause?: unknown }) {
    super(message, { cause: details.cause });
    this.name = 'GatewayError';
    this.status = details.status;
    this.code = details.code;
  }
}

export interface GatewayRequest<T> {
  gatewayUrl: string;
  path: string;
  /** The node token (registration and its dry run) or the node credential (everything else). */
  token: string;
  /** POSTed as JSON; a GET when absent. */
  body?: unknown;
  /** What a 2xx answer must look like. */
  answer: z.core.$ZodType<T>;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Sends the request; returns the parsed answer or throws GatewayError. */
export async function callGateway<T>(request: GatewayRequest<T>): Promise<T> {
  const { path, token, body } = request;
  const url = `${request.gatewayUrl.replace(/\/+$/, '')}${path}`;
  let answer: PlainAnswer;
  try {
    answer = await withDeadline(request.timeoutMs, request.signal, (signal) =>
      plainRequest(url, {
        method: body === undefined ? 'GET' : 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      }),
    );
  } catch (cause) {
    throw new GatewayError(`cannot reach the gateway at ${url}`, { status: null, code: null, cause });
  }
  const { status, statusText, text } = answer;
  if (status < 200 || status >= 300) {
    const { message, code } = readErrorBody(text);
    throw new GatewayError(`${path} answered ${status}: ${message ?? statusText}`, { status, code });
  }
  const parsed = z.safeParse(request.answer, safeJson(text));
  if (parsed.success) return parsed.data;
  throw new GatewayError(`${path} answered with an unexpected body`, {
    status,
    code: null,
    cause: parsed.error,
  });
}

export function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  return new GatewayError(error instanceof Error ? error.message : String(error), {
    status: null,
    code: null,
    cause: error,
  });
}

/**
 * A refusal that no retry can change: the gateway does not accept this node token (unknown,
 * revoked, or not a node token at all). Everything else (unreachable, 5xx, 429) may pass.
 */
export function isTokenRefusal(error: GatewayError): boolean {
  return error.status === 401 || error.status === 403;
}

/** One line for the log: the message and its causes ("cannot reach …: connect ECONNREFUSED …"). */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let current = error; current instanceof Error && parts.length < 5; current = current.cause)
    parts.push(current.message);
  return parts.length > 0 ? parts.join(': ') : String(error);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function readErrorBody(text: string): { message: string | null; code: string | null } {
  const body = safeJson(text) as { error?: { message?: unknown; code?: unknown } } | undefined;
  const message = typeof body?.error?.message === 'string' ? body.error.message : null;
  const code = typeof body?.error?.code === 'string' ? body.error.code : null;
  return { message, code };
}
