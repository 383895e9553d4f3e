/**
 * The gateway's memory of stored responses (Responses API): which engine holds each id, kept in
 * the `StoredResponses` shards. An id is remembered as the engine's answer passes — from its JSON
 * body, or from the stream's `response.created` event — and before the bytes that carry it reach
 * the client, so a client that retrieves the response at once already finds it.
 */
import { isResponseId, responseIdInEvents, responseIdInJson } from '../../../src/openai/response-ids.ts';
import { ApiError } from '../../../src/openai/errors.ts';
import type { PickResult } from '../../objects/model-pool.ts';
import type { StoredResponse } from '../../objects/stored-responses.ts';
import { callWithRetry, storedResponses } from '../../objects/stubs.ts';
import { concatBytes } from '../../../src/bytes.ts';

/** Where the relay says which engine answered (`<node id>/<engine id>`); forward.ts sets it. */
const SERVED_BY_HEADER = 'x-switchyard-engine';
/** A JSON answer is held whole to read its id; past this it is passed on unread (and not remembered). */
const MAX_HELD_JSON_BYTES = 4 * 1024 * 1024;

export async function findStoredResponse(env: Env, responseId: string): Promise<StoredResponse | null> {
  if (!isResponseId(responseId)) return null;
  return callWithRetry(() => storedResponses(env, responseId).lookup(responseId));
}

export async function forgetStoredResponse(env: Env, responseId: string): Promise<void> {
  try {
    await callWithRetry(() => storedResponses(env, responseId).forget(responseId));
  } catch (err) {
    console.error(`could not forget stored response ${responseId}`, err);
  }
}

/** The same answer whether the id was never made here, has expired, or is another tenant's. */
export function unknownResponse(responseId: string, param: string | null = null): ApiError {
  return new ApiError(
    404,
    `No response with id '${responseId}' is stored here (it was never created through this gateway, was created with store: false, has expired, or was deleted).`,
    { param, code: param === 'previous_response_id' ? 'previous_response_not_found' : 'response_not_found' },
  );
}

/**
 * How a request for a stored response is refused when its engine cannot take it: the response
 * exists only in that engine's memory, so it is never sent elsewhere.
 */
export function storedEngineRefusal(
  stored: StoredResponse,
  param: string | null,
): (picked: Extract<PickResult, { ok: false }>) => ApiError | undefined {
  const [nodeId, engineId] = stored.engineKey.split('/');
  return (picked) => {
    if (picked.reason === 'unknown_model' || picked.reason === 'session_engine_gone') {
      return new ApiError(
        404,
        `Response '${stored.responseId}' is stored on engine ${engineId} of node ${nodeId}, which no longer serves \`${stored.model}\` (its node left the gateway or restarted, and the response went with it). A stored response lives only on the engine that created it: create it again, or continue without previous_response_id.`,
        { param, code: 'response_engine_gone' },
      );
    }
    if (picked.reason === 'session_engine_unavailable') {
      return new ApiError(
        503,
        `The engine that stores response '${stored.responseId}' cannot take a request right now; retry shortly.`,
        {
          param,
          code: 'response_engine_unavailable',
          headers: { 'retry-after': String(picked.retryAfterSeconds) },
        },
      );
    }
    return undefined;
  };
}

/**
 * The engine's answer to a create, passed on unchanged, after the id it carries is remembered
 * as the engine's (and the tenant's). Only a success from a known engine carries one.
 */
export function rememberCreatedResponse(
  env: Env,
  answer: Response,
  owner: { tenantId: string; model: string },
): Response {
  const engineKey = answer.headers.get(SERVED_BY_HEADER);
  if (!answer.ok || !answer.body || !engineKey) return answer;
  const remember = async (responseId: string) => {
    const record = { ...owner, responseId, engineKey, createdAt: Date.now() };
    try {
      await callWithRetry(() => storedResponses(env, responseId).remember(record));
    } catch (err) {
      // The client still gets its answer; retrieving it later will say it is unknown.
      console.error(`could not remember stored response ${responseId} on ${engineKey}`, err);
    }
  };
  const isEventStream = (answer.headers.get('content-type') ?? '').startsWith('text/event-stream');
  const body = answer.body.pipeThrough(isEventStream ? eventStreamTap(remember) : jsonTap(remember));
  return new Response(body, { status: answer.status, headers: answer.headers });
}

/** SSE: the relay hands over whole events; the chunk with `response.created` waits for the write. */
function eventStreamTap(remember: (id: string) => Promise<void>): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  let found = false;
  return new TransformStream({
    async transform(chunk, controller) {
      if (!found) {
        const id = responseIdInEvents(decoder.decode(chunk));
        if (id) {
          found = true;
          await remember(id);
        }
      }
      controller.enqueue(chunk);
    },
  });
}

/** JSON: held whole (it arrives at once anyway), read for its id, remembered, then sent. */
function jsonTap(remember: (id: string) => Promise<void>): TransformStream<Uint8Array, Uint8Array> {
  let held: Uint8Array[] | null = [];
  let size = 0;
  return new TransformStream({
    transform(chunk, controller) {
      if (!held) return controller.enqueue(chunk);
      held.push(chunk);
      size += chunk.byteLength;
      if (size <= MAX_HELD_JSON_BYTES) return;
      for (const part of held) controller.enqueue(part);
      held = null;
    },
    async flush(controller) {
      if (!held) return;
      const whole = concatBytes(held, size);
      const id = responseIdInJson(whole);
      if (id) await remember(id);
      controller.enqueue(whole);
    },
  });
}
