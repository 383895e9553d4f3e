/**
 * One Responses API run: the response object as it goes from `in_progress` to `completed` (or
 * `incomplete` when `max_output_tokens` cut it), its single output item (an assistant message or
 * a function call), and the SSE events OpenAI and vLLM send while it streams.
 */
import type { ServerResponse } from 'node:http';
import { type ChoicePlan, planChoices } from '../generation/output-plan.ts';
import { runChoices } from '../generation/run-choices.ts';
import { sendNamedEvent } from '../http-io.ts';
import type { SimContext } from '../sim-context.ts';
import type { ChatMessageLike } from '../text-model.ts';
import { simId } from './chat-shapes.ts';
import type { ResponseObject, ResponseStatus } from './response-store.ts';
import type { ParsedResponsesRequest } from './responses-request.ts';

export interface ResponseRun {
  response: ResponseObject;
  plan: ChoicePlan;
  itemId: string;
  callId: string;
  text: string;
}

/** Called per emitted token while the run streams (a no-op when it does not). */
type TokenListener = (run: ResponseRun, delta: string, first: boolean) => void;

export function startRun(
  context: SimContext,
  parsed: ParsedResponsesRequest,
  status: ResponseStatus,
): ResponseRun {
  const [plan] = planChoices(parsed.output, context.options);
  const { request } = parsed;
  const extra = request as Record<string, unknown>;
  const response: ResponseObject = {
    id: simId('resp_'),
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status,
    background: request.background ?? false,
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    metadata: extra.metadata ?? {},
    model: request.model,
    output: [],
    parallel_tool_calls: extra.parallel_tool_calls ?? true,
    previous_response_id: request.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    store: request.store ?? true,
    temperature: extra.temperature ?? null,
    text: request.text ?? { format: { type: 'text' } },
    tool_choice: request.tool_choice ?? 'auto',
    tools: request.tools ?? [],
    top_p: extra.top_p ?? null,
    truncation: 'disabled',
    usage: null,
    user: null,
  };
  return {
    response,
    plan: plan!,
    itemId: simId(plan?.toolName === undefined ? 'msg_' : 'fc_'),
    callId: simId('call_'),
    text: '',
  };
}

export function outputItem(run: ResponseRun, status: 'in_progress' | 'completed' | 'incomplete') {
  const { toolName } = run.plan;
  if (toolName !== undefined) {
    return {
      id: run.itemId,
      type: 'function_call',
      status,
      call_id: run.callId,
      name: toolName,
      arguments: run.text,
    };
  }
  const content = status === 'in_progress' ? [] : [textPart(run.text)];
  return { id: run.itemId, type: 'message', status, role: 'assistant', content };
}

const textPart = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });

/** The assistant turn this run adds to the stored conversation. */
export function outputMessage(run: ResponseRun): ChatMessageLike {
  const { toolName } = run.plan;
  if (toolName === undefined) return { role: 'assistant', content: run.text };
  return {
    role: 'assistant',
    tool_calls: [{ id: run.callId, type: 'function', function: { name: toolName, arguments: run.text } }],
  };
}

/** Runs the generation, filling the response object in as it finishes. */
export async function executeRun(
  context: SimContext,
  run: ResponseRun,
  signal: AbortSignal,
  onToken: TokenListener = () => undefined,
): Promise<void> {
  run.response.status = 'in_progress';
  let tokens = 0;
  let cachedTokens = 0;
  for await (const event of runChoices(context.engine, [run.plan], signal)) {
    if (event.kind !== 'token') continue;
    run.text += event.text;
    tokens++;
    cachedTokens = event.cachedTokens;
    onToken(run, event.text, event.position === 0);
  }
  const incomplete = run.plan.finish === 'length';
  const promptTokens = run.plan.plan.promptTokens.length;
  Object.assign(run.response, {
    status: incomplete ? 'incomplete' : 'completed',
    incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
    output: [outputItem(run, incomplete ? 'incomplete' : 'completed')],
    usage: {
      input_tokens: promptTokens,
      input_tokens_details: { cached_tokens: cachedTokens },
      output_tokens: tokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: promptTokens + tokens,
    },
  });
}

/** Streams a run as `response.created`, the item and part events, deltas, and `response.completed`. */
export async function streamRun(
  context: SimContext,
  run: ResponseRun,
  response: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  let sequence = 0;
  const send = (type: string, fields: Record<string, unknown>): void =>
    sendNamedEvent(response, type, { type, sequence_number: sequence++, ...fields });
  const at = { output_index: 0 };
  const inPart = { item_id: run.itemId, ...at, content_index: 0 };
  const message = run.plan.toolName === undefined;
  send('response.created', { response: { ...run.response, status: 'in_progress' } });
  send('response.in_progress', { response: { ...run.response, status: 'in_progress' } });

  await executeRun(context, run, signal, (current, delta, first) => {
    if (first) {
      send('response.output_item.added', { ...at, item: outputItem(current, 'in_progress') });
      if (message) send('response.content_part.added', { ...inPart, part: textPart('') });
    }
    if (message) send('response.output_text.delta', { ...inPart, delta, logprobs: [] });
    else send('response.function_call_arguments.delta', { item_id: run.itemId, ...at, delta });
  });
  const done = run.response.status === 'completed' ? 'completed' : 'incomplete';
  if (message) {
    send('response.output_text.done', { ...inPart, text: run.text, logprobs: [] });
    send('response.content_part.done', { ...inPart, part: textPart(run.text) });
  } else {
    send('response.function_call_arguments.done', { item_id: run.itemId, ...at, arguments: run.text });
  }
  send('response.output_item.done', { ...at, item: outputItem(run, done) });
  send(`response.${done}`, { response: run.response });
  response.end();
}
