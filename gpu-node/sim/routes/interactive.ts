/**
 * LMDeploy's `/v1/chat/interactive`: `{prompt, session_id, interactive_mode, stream,
 * request_output_len, stop, seed, cancel}` answered as `{text, tokens, input_tokens,
 * history_tokens, finish_reason}`, streamed as one such JSON object per line. With
 * `interactive_mode: true` the turn joins the session's history (`history_tokens` grows turn by
 * turn, on the engine that holds the session only); `false` answers and then ends the session; an
 * empty prompt with `request_output_len: 0` ends it at once.
 */
import { z } from 'zod';
import { planChoices } from '../generation/output-plan.ts';
import { runChoices } from '../generation/run-choices.ts';
import { sendJson, validateBody } from '../http-io.ts';
import type { RouteCall, SimContext } from '../sim-context.ts';
import { SimError, unknownModel } from '../sim-error.ts';
import { renderChat, tokenizeText } from '../text-model.ts';
import { chatMessageSchema, stopField, stopList } from './openai-request.ts';

const interactiveRequest = z.looseObject({
  model: z.string().nullish(),
  prompt: z.union([z.string(), z.array(chatMessageSchema)]),
  session_id: z.number().int().default(-1),
  interactive_mode: z.boolean().default(false),
  stream: z.boolean().nullish(),
  stop: stopField,
  request_output_len: z.number().int().min(0).nullish(),
  seed: z.number().int().nullish(),
  cancel: z.boolean().nullish(),
});

const EMPTY_ANSWER = { text: '', tokens: 0, input_tokens: 0, history_tokens: 0, finish_reason: 'stop' };

export async function answerInteractive(context: SimContext, call: RouteCall): Promise<void> {
  const request = validateBody(interactiveRequest, call.body);
  const { options, sessions } = context;
  if (request.model !== undefined && request.model !== null && request.model !== options.servedModelName) {
    throw unknownModel(request.model);
  }
  if (request.cancel === true) {
    if (request.session_id === -1)
      throw new SimError('please set a session_id to cancel a request', { status: 400 });
    sendJson(call.response, 200, EMPTY_ANSWER);
    return;
  }
  const sessionId = request.session_id === -1 ? sessions.newId() : request.session_id;
  if (!request.interactive_mode && request.prompt === '' && request.request_output_len === 0) {
    sessions.end(sessionId);
    sendJson(call.response, 200, EMPTY_ANSWER);
    return;
  }

  const session = sessions.open(sessionId);
  const messages =
    typeof request.prompt === 'string' ? [{ role: 'user', content: request.prompt }] : request.prompt;
  const turnTokens = tokenizeText(renderChat(messages, undefined, true));
  const promptTokens = [...session.history, ...turnTokens];
  const counts = { input_tokens: turnTokens.length, history_tokens: session.history.length };
  const room = options.maxModelLen - promptTokens.length;
  if (room < 1) {
    // LMDeploy's answer to a session past --session-len: nothing generated, finish_reason "length".
    sessions.end(sessionId);
    sendJson(call.response, 200, { text: '', tokens: 0, ...counts, finish_reason: 'length' });
    return;
  }
  const requested = request.request_output_len || undefined;
  const [plan] = planChoices(
    {
      promptTokens,
      limit: requested === undefined ? undefined : Math.min(requested, room),
      limitMode: 'exact',
      n: 1,
      seed: request.seed ?? undefined,
      stop: stopList(request.stop),
      shape: { kind: 'text' },
      cacheSalt: '',
    },
    options,
  );

  const stream = request.stream === true;
  if (stream) {
    context.engine.scheduler.assertCanQueue(promptTokens.length);
    call.response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
    });
    call.response.flushHeaders();
  }
  const output: string[] = [];
  for await (const event of runChoices(context.engine, [plan!], call.signal)) {
    if (event.kind !== 'token') continue;
    output.push(event.text);
    if (stream) {
      const line = { text: event.text, tokens: output.length, ...counts, finish_reason: null };
      call.response.write(`${JSON.stringify(line)}\n`);
    }
  }
  if (request.interactive_mode) {
    session.history = [...promptTokens, ...output];
    session.turns++;
  } else {
    sessions.end(sessionId);
  }
  const finish = { tokens: output.length, ...counts, finish_reason: plan!.finish };
  if (stream) call.response.end(`${JSON.stringify({ text: '', ...finish })}\n`);
  else sendJson(call.response, 200, { text: output.join(''), ...finish });
}
