/**
 * The Responses API with vLLM's stored state: `POST /v1/responses` (streamed or not, `background`
 * too), `GET` and `DELETE /v1/responses/{id}`, `POST /v1/responses/{id}/cancel` and
 * `GET /v1/responses/{id}/input_items`. Responses are stored when they finish (`store: false`
 * skips it); a background response is stored at once and can be cancelled while it runs.
 */
import { sendJson, startEventStream } from '../http-io.ts';
import type { RouteCall, SimContext } from '../sim-context.ts';
import { SimError } from '../sim-error.ts';
import type { StoredResponse } from './response-store.ts';
import { parseResponsesRequest, type ParsedResponsesRequest, responseNotFound } from './responses-request.ts';
import { executeRun, outputMessage, type ResponseRun, startRun, streamRun } from './responses-run.ts';

function storedEntry(parsed: ParsedResponsesRequest, run: ResponseRun): StoredResponse {
  return {
    response: run.response,
    inputItems: parsed.inputItems,
    conversation: [...parsed.conversation, outputMessage(run)],
    controller: undefined,
  };
}

function runInBackground(context: SimContext, parsed: ParsedResponsesRequest, run: ResponseRun): void {
  const entry = storedEntry(parsed, run);
  const controller = new AbortController();
  entry.controller = controller;
  context.responses.put(entry);
  const signal = AbortSignal.any([controller.signal, context.closing]);
  executeRun(context, run, signal)
    .catch((error: unknown) => {
      if (run.response.status === 'cancelled') return;
      run.response.status = 'failed';
      run.response.error = {
        code: 'server_error',
        message: error instanceof Error ? error.message : String(error),
      };
    })
    .finally(() => {
      entry.controller = undefined;
      entry.conversation = [...parsed.conversation, outputMessage(run)];
    });
}

export async function answerCreateResponse(context: SimContext, call: RouteCall): Promise<void> {
  const parsed = parseResponsesRequest(context, call.body);
  const { request } = parsed;
  const store = request.store !== false;
  if (request.background === true && request.stream !== true) {
    if (!store)
      throw new SimError('background responses must be stored (store: true)', {
        status: 400,
        param: 'store',
      });
    const run = startRun(context, parsed, 'queued');
    runInBackground(context, parsed, run);
    sendJson(call.response, 200, run.response);
    return;
  }
  const run = startRun(context, parsed, 'in_progress');
  if (request.stream === true) {
    context.engine.scheduler.assertCanQueue(parsed.output.promptTokens.length);
    startEventStream(call.response);
    await streamRun(context, run, call.response, call.signal);
  } else {
    await executeRun(context, run, call.signal);
    sendJson(call.response, 200, run.response);
  }
  if (store) context.responses.put(storedEntry(parsed, run));
}

function storedOrThrow(context: SimContext, call: RouteCall): StoredResponse {
  const id = call.params.id ?? '';
  const entry = context.responses.get(id);
  if (entry === undefined) throw responseNotFound(id);
  return entry;
}

export async function answerRetrieveResponse(context: SimContext, call: RouteCall): Promise<void> {
  sendJson(call.response, 200, storedOrThrow(context, call).response);
}

export async function answerDeleteResponse(context: SimContext, call: RouteCall): Promise<void> {
  const { id } = storedOrThrow(context, call).response;
  context.responses.delete(id);
  sendJson(call.response, 200, { id, object: 'response.deleted', deleted: true });
}

export async function answerCancelResponse(context: SimContext, call: RouteCall): Promise<void> {
  const entry = storedOrThrow(context, call);
  const { response } = entry;
  if (response.status !== 'queued' && response.status !== 'in_progress') {
    throw new SimError('Cannot cancel a synchronous response.', {
      status: 400,
      type: 'invalid_request_error',
    });
  }
  response.status = 'cancelled';
  entry.controller?.abort();
  sendJson(call.response, 200, response);
}

export async function answerInputItems(context: SimContext, call: RouteCall): Promise<void> {
  const entry = storedOrThrow(context, call);
  const limit = Math.min(100, Math.max(1, Number(call.query.get('limit') ?? 20) || 20));
  const ordered = call.query.get('order') === 'asc' ? [...entry.inputItems] : [...entry.inputItems].reverse();
  const after = call.query.get('after');
  const start = after === null ? 0 : ordered.findIndex((item) => item.id === after) + 1;
  const data = ordered.slice(start, start + limit);
  sendJson(call.response, 200, {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: start + limit < ordered.length,
  });
}
