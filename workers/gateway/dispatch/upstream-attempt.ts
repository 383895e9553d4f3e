/**
 * One try at one engine: send the request to the node's agent and wait for the first body
 * byte. Everything that can go wrong before that byte is reported as a failure the caller
 * may retry elsewhere, since the client has seen nothing yet: no connection, a timeout, an
 * engine's 5xx, or the agent's own refusal (a node that is draining, an engine that is not
 * ready or not there, a credential the node no longer takes).
 */
import { readCapped } from '../../../src/bytes.ts';
import { ApiError, ERROR_SOURCE_HEADER } from '../../../src/openai/errors.ts';
import { ENGINE_HEADER } from '../../../src/protocol/node-api.ts';
import { formatMeterRequest, METER_HEADER, type MeterRequest } from '../../../src/protocol/node-metering.ts';
import type { NodeLease } from './engine-leases.ts';

export interface AttemptInput {
  lease: NodeLease;
  /** POST unless said otherwise (the stored-response routes GET and DELETE, without a body). */
  method?: string;
  pathAndQuery: string;
  body: BodyInit;
  headers: Headers;
  /** Streaming requests get response headers at once, so a short connect timeout applies. */
  expectEarlyHeaders: boolean;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  clientSignal: AbortSignal;
  /** Asks the agent to meter the answer, so its body can pass natively (native-relay.ts). */
  meter: MeterRequest;
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

/** The abort reason when a phase of the attempt ran out of time. */
class UpstreamTimeout extends Error {
  readonly waitingFor: string;
  readonly ms: number;

  constructor(waitingFor: string, ms: number) {
    super(`timed out waiting for ${waitingFor}`);
    this.waitingFor = waitingFor;
    this.ms = ms;
  }
}

export async function attemptUpstream(input: AttemptInput): Promise<AttemptResult> {
  if (input.clientSignal.aborted) return { kind: 'client_gone' };
  const abort = new AbortController();
  const deadline = (waitingFor: string, ms: number) =>
    onAbort(AbortSignal.timeout(ms), () => abort.abort(new UpstreamTimeout(waitingFor, ms)));
  const endFirstByteDeadline = deadline('the first byte', input.firstByteTimeoutMs);
  const endHeadersDeadline = input.expectEarlyHeaders
    ? deadline('response headers', input.connectTimeoutMs)
    : () => {};

  const headers = new Headers(input.headers);
  headers.set('authorization', `Bearer ${input.lease.credential}`);
  headers.set(ENGINE_HEADER, input.lease.engineId);
  headers.set(METER_HEADER, formatMeterRequest(input.meter));
  try {
    const method = input.method ?? 'POST';
    const response = await fetch(new URL(input.pathAndQuery, input.lease.url), {
      method,
      headers,
      body: method === 'GET' || method === 'DELETE' ? undefined : input.body,
      signal: AbortSignal.any([abort.signal, input.clientSignal]),
      // A node may not send the gateway elsewhere (its own network, a metadata address).
      redirect: 'manual',
    });
    endHeadersDeadline();
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      const message = `${describe(input.lease)} answered a redirect (${response.status}), which the gateway never follows.`;
      return {
        kind: 'failed',
        error: new ApiError(502, message, { code: 'upstream_redirect' }),
        upstream: null,
      };
    }
    if (response.headers.get(ERROR_SOURCE_HEADER) === 'agent') {
      return { kind: 'failed', error: await agentRefusal(input.lease, response), upstream: null };
    }
    if (response.status >= 500) {
      return {
        kind: 'failed',
        error: new ApiError(502, `${describe(input.lease)} answered ${response.status}.`, {
          code: 'upstream_error',
        }),
        upstream: await hold(response),
      };
    }
    const reader = response.body?.getReader() ?? null;
    const first = reader ? await reader.read() : { done: true as const, value: undefined };
    return { kind: 'response', response, reader, firstChunk: first.done ? null : first.value, abort };
  } catch (cause) {
    if (input.clientSignal.aborted) return { kind: 'client_gone' };
    const reason: unknown = abort.signal.reason;
    if (reason instanceof UpstreamTimeout) {
      const message = `${describe(input.lease)} sent no ${reason.waitingFor} within ${reason.ms} ms.`;
      return {
        kind: 'failed',
        error: new ApiError(504, message, { code: 'upstream_timeout', cause }),
        upstream: null,
      };
    }
    const message = `Could not reach ${describe(input.lease)}: ${(cause as Error).message}`;
    return {
      kind: 'failed',
      error: new ApiError(502, message, { code: 'upstream_unreachable', cause }),
      upstream: null,
    };
  } finally {
    endHeadersDeadline();
    endFirstByteDeadline();
  }
}

/** Runs `listener` when `signal` aborts, until the returned function is called. */
function onAbort(signal: AbortSignal, listener: () => void): () => void {
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

function describe(lease: NodeLease): string {
  return `engine ${lease.engineId} on node ${lease.nodeId}`;
}

/**
 * The node agent refused before any engine saw the request. Its 401/404 concern the node, not
 * the client, so they are never passed through: the caller tries another engine, and if none
 * takes the request the client hears it as the gateway's 503 (the node will be back) or 502.
 */
async function agentRefusal(lease: NodeLease, response: Response): Promise<ApiError> {
  const held = await hold(response);
  let said = `status ${response.status}`;
  try {
    const body = JSON.parse(new TextDecoder().decode(held?.body)) as { error?: { message?: unknown } };
    if (typeof body.error?.message === 'string') said = body.error.message;
  } catch {
    // Not the agent's JSON: the status is all there is to say.
  }
  const message = `${describe(lease)} refused the request: ${said}`;
  if (response.status === 503) {
    return new ApiError(503, message, {
      code: 'no_available_engine',
      headers: { 'retry-after': response.headers.get('retry-after') ?? '1' },
    });
  }
  return new ApiError(502, message, { code: 'node_refused' });
}

/** Null when the error body itself cannot be read; the caller then reports its own error. */
async function hold(response: Response): Promise<BufferedResponse | null> {
  if (!response.body) return { status: response.status, headers: response.headers, body: new Uint8Array() };
  try {
    const { bytes } = await readCapped(response.body, MAX_HELD_ERROR_BYTES);
    return { status: response.status, headers: response.headers, body: bytes };
  } catch {
    return null;
  }
}
