/**
 * Anthropic's Messages API as vLLM, SGLang and llama.cpp serve it: `POST /v1/messages` (one JSON
 * message, or the SSE events `message_start`, `content_block_start`, `ping`,
 * `content_block_delta`, `content_block_stop`, `message_delta` with usage, `message_stop`) and
 * `POST /v1/messages/count_tokens`. Errors on these routes are Anthropic-shaped (server.ts).
 */
import type { ServerResponse } from 'node:http';
import { type ChoicePlan, planChoices } from '../generation/output-plan.ts';
import { runChoices } from '../generation/run-choices.ts';
import { sendJson, sendNamedEvent, startEventStream, validateBody } from '../http-io.ts';
import type { RouteCall, SimContext } from '../sim-context.ts';
import { simId } from './chat-shapes.ts';
import {
  checkMessagesModel,
  countTokensSchema,
  parseMessagesRequest,
  promptTokensOf,
} from './messages-request.ts';

function stopReasonOf(plan: ChoicePlan): string {
  if (plan.finish === 'tool_calls') return 'tool_use';
  if (plan.finish === 'length') return 'max_tokens';
  return plan.stopReason === null ? 'end_turn' : 'stop_sequence';
}

/** Anthropic counts cache reads apart from `input_tokens`. */
function usageOf(promptTokens: number, cachedTokens: number, outputTokens: number) {
  return {
    input_tokens: promptTokens - cachedTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cachedTokens,
    output_tokens: outputTokens,
  };
}

function parsedInput(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return {}; // cut by max_tokens mid-object
  }
}

interface MessageDraft {
  id: string;
  model: string;
  plan: ChoicePlan;
  toolUseId: string;
}

function messageShell(draft: MessageDraft, content: unknown[], usage: ReturnType<typeof usageOf>) {
  return {
    id: draft.id,
    type: 'message',
    role: 'assistant',
    model: draft.model,
    content,
    stop_reason: null,
    stop_sequence: null,
    usage,
  };
}

function blockShell(draft: MessageDraft, text: string) {
  const { toolName } = draft.plan;
  if (toolName === undefined) return { type: 'text', text };
  return {
    type: 'tool_use',
    id: draft.toolUseId,
    name: toolName,
    input: text === '' ? {} : parsedInput(text),
  };
}

async function streamMessage(
  context: SimContext,
  draft: MessageDraft,
  response: ServerResponse,
  signal: AbortSignal,
) {
  const promptTokens = draft.plan.plan.promptTokens.length;
  context.engine.scheduler.assertCanQueue(promptTokens);
  startEventStream(response);
  const send = (type: string, fields: Record<string, unknown>): void =>
    sendNamedEvent(response, type, { type, ...fields });
  const tool = draft.plan.toolName !== undefined;
  let outputTokens = 0;
  for await (const event of runChoices(context.engine, [draft.plan], signal)) {
    if (event.kind !== 'token') continue;
    if (event.position === 0) {
      send('message_start', {
        message: messageShell(draft, [], usageOf(promptTokens, event.cachedTokens, 1)),
      });
      send('content_block_start', { index: 0, content_block: blockShell(draft, '') });
      send('ping', {});
    }
    outputTokens++;
    const delta = tool
      ? { type: 'input_json_delta', partial_json: event.text }
      : { type: 'text_delta', text: event.text };
    send('content_block_delta', { index: 0, delta });
  }
  send('content_block_stop', { index: 0 });
  const stop = { stop_reason: stopReasonOf(draft.plan), stop_sequence: draft.plan.stopReason };
  send('message_delta', { delta: stop, usage: { output_tokens: outputTokens } });
  send('message_stop', {});
  response.end();
}

export async function answerMessages(context: SimContext, call: RouteCall): Promise<void> {
  const { request, output } = parseMessagesRequest(call.body, context.options);
  const [plan] = planChoices(output, context.options);
  const draft: MessageDraft = {
    id: simId('msg_'),
    model: request.model,
    plan: plan!,
    toolUseId: simId('toolu_'),
  };
  if (request.stream === true) {
    await streamMessage(context, draft, call.response, call.signal);
    return;
  }
  let text = '';
  let tokens = 0;
  let cachedTokens = 0;
  for await (const event of runChoices(context.engine, [draft.plan], call.signal)) {
    if (event.kind !== 'token') continue;
    text += event.text;
    tokens++;
    cachedTokens = event.cachedTokens;
  }
  sendJson(call.response, 200, {
    ...messageShell(
      draft,
      [blockShell(draft, text)],
      usageOf(output.promptTokens.length, cachedTokens, tokens),
    ),
    stop_reason: stopReasonOf(draft.plan),
    stop_sequence: draft.plan.stopReason,
  });
}

export async function answerCountTokens(context: SimContext, call: RouteCall): Promise<void> {
  const request = validateBody(countTokensSchema, call.body);
  checkMessagesModel(context.options, request.model);
  sendJson(call.response, 200, { input_tokens: promptTokensOf(request).length });
}
