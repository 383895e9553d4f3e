/**
 * Validation of `/v1/chat/completions` and `/v1/completions` bodies: only the fields the simulator
 * uses are checked, everything else (vLLM's extras such as `top_k` or `guided_json`) is accepted
 * and ignored.
 */
import { z } from 'zod';
import { validateBody } from './http-io.ts';
import type { GenerationPlan } from './sim-engine.ts';
import { SimError } from './sim-error.ts';
import type { SimOptions } from './options.ts';
import { outputTokens, renderChat, seedOf, tokenizeIds, tokenizeText } from './text-model.ts';

const tokenLimit = z.number().int().min(1).nullish();
const commonFields = {
  model: z.string().min(1),
  max_tokens: tokenLimit,
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  cache_salt: z.string().nullish(),
};

const chatRequestSchema = z.looseObject({
  ...commonFields,
  messages: z
    .array(
      z.looseObject({
        role: z.string(),
        content: z.unknown().optional(),
        tool_calls: z.unknown().optional(),
      }),
    )
    .min(1),
  tools: z.unknown().optional(),
  add_generation_prompt: z.boolean().nullish(),
  max_completion_tokens: tokenLimit,
});

const tokenIds = z.array(z.number().int().nonnegative());
const completionRequestSchema = z.looseObject({
  ...commonFields,
  prompt: z.union([z.string(), z.array(z.string()).length(1), tokenIds, z.array(tokenIds).length(1)], {
    error: 'prompt must be a string or token ids (the simulator serves one prompt per request)',
  }),
});

export type GenerationKind = 'chat' | 'completion';

export interface GenerationRequest {
  kind: GenerationKind;
  plan: GenerationPlan;
  stream: boolean;
  includeUsage: boolean;
}

function promptTokensOf(prompt: z.infer<typeof completionRequestSchema>['prompt']): string[] {
  if (typeof prompt === 'string') return tokenizeText(prompt);
  const [first] = prompt;
  if (typeof first === 'string') return tokenizeText(first);
  if (Array.isArray(first)) return tokenizeIds(first);
  return tokenizeIds(prompt as number[]);
}

export function parseGenerationRequest(
  kind: GenerationKind,
  body: unknown,
  options: SimOptions,
): GenerationRequest {
  const common = validateBody(z.looseObject(commonFields), body);
  if (common.model !== options.servedModelName) {
    throw new SimError(`The model \`${common.model}\` does not exist.`, { status: 404, param: 'model' });
  }
  let promptTokens: string[];
  let requestedTokens: number | null | undefined = common.max_tokens;
  if (kind === 'chat') {
    const chat = validateBody(chatRequestSchema, body);
    promptTokens = tokenizeText(renderChat(chat.messages, chat.tools, chat.add_generation_prompt ?? true));
    requestedTokens = chat.max_completion_tokens ?? chat.max_tokens;
  } else {
    promptTokens = promptTokensOf(validateBody(completionRequestSchema, body).prompt);
  }

  const room = options.maxModelLen - promptTokens.length;
  const maxTokens = requestedTokens ?? Math.min(options.maxTokensDefault, room);
  if (maxTokens > room || room < 1) {
    throw new SimError(
      `This model's maximum context length is ${options.maxModelLen} tokens. However, you requested ` +
        `${promptTokens.length + maxTokens} tokens (${promptTokens.length} in the messages, ${maxTokens} in the completion). ` +
        'Please reduce the length of the messages or completion.',
      { status: 400 },
    );
  }
  return {
    kind,
    plan: {
      promptTokens,
      outputTokens: outputTokens(seedOf(promptTokens.join('')), maxTokens),
      cacheSalt: common.cache_salt ?? '',
      // Without a limit the simulated model "chooses" to stop; with one, it runs into it.
      finishReason: requestedTokens === null || requestedTokens === undefined ? 'stop' : 'length',
    },
    stream: common.stream === true,
    includeUsage: common.stream_options?.include_usage === true,
  };
}
