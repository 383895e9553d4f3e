/**
 * Answers `/v1/chat/completions` and `/v1/completions` in vLLM's shapes: one JSON body, or an SSE
 * stream with, per choice, a role chunk (chat), one chunk per token and a finish chunk, then an
 * optional usage chunk with `choices: []` and `data: [DONE]`.
 */
import type { ServerResponse } from 'node:http';
import { planChoices } from '../generation/output-plan.ts';
import { collectChoices, runChoices } from '../generation/run-choices.ts';
import { endEventStream, sendEvent, sendJson, startEventStream } from '../http-io.ts';
import type { SimContext } from '../sim-context.ts';
import type { RouteCall } from '../sim-context.ts';
import {
  choiceStates,
  envelope,
  finalChoice,
  finishChoice,
  roleChoice,
  tokenChoice,
  usageOf,
} from './chat-shapes.ts';
import { type GenerationKind, type GenerationRequest, parseGenerationRequest } from './openai-request.ts';

/** Streams tokens as the engine emits them; a client that leaves aborts `signal` and frees the slots. */
async function streamGeneration(
  context: SimContext,
  request: GenerationRequest,
  response: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const plans = planChoices(request.output, context.options);
  // Refuse a full queue with a plain 503 while that is still possible; nothing awaits between this
  // check and the generators' first step, so the check holds.
  context.engine.scheduler.assertCanQueue(request.output.promptTokens.length);
  const states = choiceStates(request, plans);
  const head = envelope(request.kind, true, context.identity);
  startEventStream(response);
  let completionTokens = 0;
  let cachedTokens = 0;
  for await (const event of runChoices(context.engine, plans, signal)) {
    const state = states[event.choice];
    if (state === undefined) continue;
    if (event.kind === 'end') {
      sendEvent(response, { ...head, choices: [finishChoice(request.kind, event.choice, state)] });
      continue;
    }
    if (event.position === 0 && request.kind === 'chat') {
      sendEvent(response, { ...head, choices: [roleChoice(event.choice)] });
    }
    completionTokens++;
    if (event.choice === 0) cachedTokens = event.cachedTokens;
    const choice = tokenChoice(request.kind, event.choice, state, event.position, event.text);
    sendEvent(response, { ...head, choices: [choice] });
  }
  if (request.includeUsage) {
    const usage = usageOf(request.output.promptTokens.length, completionTokens, cachedTokens);
    sendEvent(response, { ...head, choices: [], usage });
  }
  endEventStream(response);
}

async function answerGeneration(
  context: SimContext,
  request: GenerationRequest,
  response: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const plans = planChoices(request.output, context.options);
  const states = choiceStates(request, plans);
  const collected = await collectChoices(context.engine, plans, signal);
  const completionTokens = collected.reduce((total, choice) => total + choice.tokens, 0);
  sendJson(response, 200, {
    ...envelope(request.kind, false, context.identity),
    choices: collected.map((choice, index) => finalChoice(request.kind, index, states[index]!, choice)),
    usage: usageOf(request.output.promptTokens.length, completionTokens, collected[0]?.cachedTokens ?? 0),
  });
}

export function generationRoute(kind: GenerationKind) {
  return async function answerCompletion(context: SimContext, call: RouteCall): Promise<void> {
    const request = parseGenerationRequest(kind, call.body, context.options);
    const answer = request.stream ? streamGeneration : answerGeneration;
    await answer(context, request, call.response, call.signal);
  };
}
