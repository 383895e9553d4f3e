/**
 * vLLM's `/v1/chat/completions/batch`: `messages` is a list of conversations, run concurrently, and
 * the answer is one `chat.completion` whose choice `i` answers conversation `i`. Like vLLM, it
 * refuses streaming and tools; the other chat options apply to every conversation.
 */
import { z } from 'zod';
import { planChoices } from '../generation/output-plan.ts';
import { collectChoices } from '../generation/run-choices.ts';
import { sendJson, validateBody } from '../http-io.ts';
import type { RouteCall, SimContext } from '../sim-context.ts';
import { SimError, unknownModel } from '../sim-error.ts';
import { renderChat, tokenizeText } from '../text-model.ts';
import { choiceStates, envelope, finalChoice, usageOf } from './chat-shapes.ts';
import {
  chatMessageSchema,
  chatRequestSchema,
  type GenerationRequest,
  stopList,
  structuredShape,
} from './openai-request.ts';

const batchRequestSchema = chatRequestSchema.extend({
  messages: z.array(z.array(chatMessageSchema).min(1)).min(1),
});

export async function answerChatBatch(context: SimContext, call: RouteCall): Promise<void> {
  const request = validateBody(batchRequestSchema, call.body);
  if (request.model !== context.options.servedModelName) throw unknownModel(request.model);
  if (request.stream === true)
    throw new SimError('Streaming is not supported for batch chat completions', {
      status: 400,
      param: 'stream',
    });
  if ((request.tools ?? []).length > 0)
    throw new SimError('Tools are not supported for batch chat completions', { status: 400, param: 'tools' });
  if ((request.n ?? 1) > 1)
    throw new SimError('n > 1 is not supported for batch chat completions', { status: 400, param: 'n' });

  const requests: GenerationRequest[] = request.messages.map((conversation) => ({
    kind: 'chat',
    output: {
      promptTokens: tokenizeText(renderChat(conversation, undefined, request.add_generation_prompt ?? true)),
      limit: request.max_completion_tokens ?? request.max_tokens ?? undefined,
      limitMode: 'exact',
      n: 1,
      seed: request.seed ?? undefined,
      stop: stopList(request.stop),
      shape: structuredShape(request),
      cacheSalt: request.cache_salt ?? '',
    },
    stream: false,
    includeUsage: false,
    topLogprobs: request.logprobs === true ? (request.top_logprobs ?? 0) : null,
  }));
  const plans = requests.flatMap((single) => planChoices(single.output, context.options));
  const states = requests.flatMap((single, index) => choiceStates(single, plans.slice(index, index + 1)));
  const collected = await collectChoices(context.engine, plans, call.signal);
  const promptTokens = requests.reduce((total, single) => total + single.output.promptTokens.length, 0);
  const completionTokens = collected.reduce((total, choice) => total + choice.tokens, 0);
  const cachedTokens = collected.reduce((total, choice) => total + choice.cachedTokens, 0);
  sendJson(call.response, 200, {
    ...envelope('chat', false, context.identity),
    choices: collected.map((choice, index) => finalChoice('chat', index, states[index]!, choice)),
    usage: usageOf(promptTokens, completionTokens, cachedTokens),
  });
}
