/**
 * One try at one engine: send the request to the node's agent and wait for the first body
 * byte. Everything that can go wrong before that byte is reported as a failure the caller
 * may retry elsewhere, since the client has seen nothing yet.
 */
import { ENGINE_HEADER } from '../protocol/node-api.ts';
import type { Lease } from '../../workers/model-pool.ts';
import { ApiError } from '../errors.ts';
import { concatBytes } from './bytes.ts';

export interface AttemptInput {
  lease: Lease;
  pathAndQuery: string;
  body: BodyInit;
  headers: Headers;
  /** Streaming requests get response headers at once, so a short connect timeout applies. */
  expectEarlyHeaders: boolean;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  clientSignal: AbortSignal;
}

export type AttemptResult =
  | {
      kind: 'response';
      response: Response;
      reader: ReadableStreamDefaultReader<Uint8Array> | null;
      firstChunk: Uint8Array | null;
      abort: AbortController;
    }
  | { kind: 'failed'; error: ApiError; upstream: BufferedResponse | null }
  | { kind: 'client_gone' };

/** A small upstream error response held so it can be passed through if no retry succeeds. */
export interface BufferedResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

const MAX_HELD_ERROR_BYTES = 64 * 1024;

export async function attemptUpstream(input: AttemptInput): Promise<AttemptResult> {
  const abort = new AbortController();
  const onClientGone = () => abort.abort(new Error('client disconnected'));
  if (input.clientSignal.aborted) return { kind: 'client_gone' };
  input.clientSignal.addEventListener('abort', onClientGone, { once: true });

  let timedOut: { waitingFor: string; ms: number } | null = null;
  const timeout = (waitingFor: string, ms: number) =>
    setTimeout(() => {
      timedOut = { waitingFor, ms };
      abort.abort(new Error(`timed out waiting for ${waitingFor}`));
    }, ms);
  const firstByteTimer = timeout('the first byte', input.firstByteTimeoutMs);
  const connectTimer = input.expectEarlyHeaders ? timeout('response headers', input.connectTimeoutMs) : 0;
  const done = () => {
    clearTimeout(firstByteTimer);
    clearTimeout(connectTimer);
    input.clientSignal.removeEventListener('abort', onClientGone);
  };

  const headers = new Headers(input.headers);
  headers.set('authorization', `Bearer ${input.lease.credential}`);
  headers.set(ENGINE_HEADER, input.lease.engineId);
  try {
    const response = await fetch(new URL(input.pathAndQuery, input.lease.url), {
      method: 'POST',
      headers,
      body: input.body,
      signal: abort.signal,
    });
    clearTimeout(connectTimer);
    if (response.status >= 500) {
      done();
      return {
        kind: 'failed',
        error: upstreamStatusError(input.lease, response.status),
        upstream: await hold(response),
      };
    }
    const reader = response.body?.getReader() ?? null;
    const first = reader ? await reader.read() : { done: true as const, value: undefined };
    done();
    return { kind: 'response', response, reader, firstChunk: first.done ? null : first.value, abort };
  } catch (cause) {
    done();
    if (input.clientSignal.aborted) return { kind: 'client_gone' };
    if (timedOut) {
      const { waitingFor, ms } = timedOut as { waitingFor: string; ms: number };
      const message = `${describe(input.lease)} sent no ${waitingFor} within ${ms} ms.`;
      return {
        kind: 'failed',
        error: new ApiError(504, message, { code: 'upstream_timeout', cause }),
        upstream: null,
      };
    }
    return {
      kind: 'failed',
      error: new ApiError(502, `Could not reach ${describe(input.lease)}: ${(cause as Error).message}`, {
        code: 'upstream_unreachable',
        cause,
      }),
      upstream: null,
    };
  }
}

function describe(lease: Lease): string {
  return `engine ${lease.engineId} on node ${lease.nodeId}`;
}

function upstreamStatusError(lease: Lease, status: number): ApiError {
  return new ApiError(502, `${describe(lease)} answered ${status}.`, { code: 'upstream_error' });
}

/** Null when the error body itself cannot be read; the caller then reports its own error. */
async function hold(response: Response): Promise<BufferedResponse | null> {
  const reader = response.body?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (reader && size < MAX_HELD_ERROR_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
    await reader?.cancel();
  } catch {
    return null;
  }
  return { status: response.status, headers: response.headers, body: concatBytes(chunks, size) };
}
