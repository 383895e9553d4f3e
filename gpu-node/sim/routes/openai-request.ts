/**
 * Validation of `/v1/chat/completions` and `/v1/completions` bodies into an `OutputRequest`: the
 * fields the simulator honours are checked (`n`, `seed`, `stop`, `logprobs`, `tools` /
 * `tool_choice`, `response_format`, vLLM's `guided_json` / `guided_choice` / `structured_outputs`);
 * everything else (vLLM's extras such as `top_k`) is accepted and ignored.
 */
import { z } from 'zod';
import { validateBody } from '../http-io.ts';
import type { OutputRequest, OutputShape, ToolChoice, ToolSpec } from '../generation/output-plan.ts';
import { decideTool, promptSeed } from '../generation/output-plan.ts';
import type { SimOptions } from '../options.ts';
import { SimError, unknownModel } from '../sim-error.ts';
import { renderChat, tokenizeIds, tokenizeText } from '../text-model.ts';

const tokenLimit = z.number().int().min(1).nullish();
const tokenIds = z.array(z.number().int().nonnegative());
export const stopField = z.union([z.string(), z.array(z.string()).max(16)]).nullish();

/** vLLM's structured-output fields, older (`guided_*`) and newer (`structured_outputs`). */
const guidedFields = {
  response_format: z
    .looseObject({
      type: z.string(),
      json_schema: z.looseObject({ name: z.string().optional(), schema: z.unknown().optional() }).optional(),
    })
    .nullish(),
  guided_json: z.unknown().optional(),
  guided_choice: z.array(z.string()).min(1).nullish(),
  structured_outputs: z
    .looseObject({ json: z.unknown().optional(), choice: z.array(z.string()).min(1).optional() })
    .nullish(),
};

const commonFields = {
  model: z.string().min(1),
  max_tokens: tokenLimit,
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  cache_salt: z.string().nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  seed: z.number().int().nullish(),
  stop: stopField,
  ...guidedFields,
};

export const chatMessageSchema = z.looseObject({
  role: z.string(),
  content: z.unknown().optional(),
  tool_calls: z.unknown().optional(),
});

const chatToolSchema = z.looseObject({
  type: z.string().optional(),
  function: z.looseObject({ name: z.string().min(1), parameters: z.unknown().optional() }),
});

export const chatRequestSchema = z.looseObject({
  ...commonFields,
  messages: z.array(chatMessageSchema).min(1),
  tools: z.array(chatToolSchema).nullish(),
  tool_choice: z
    .union([
      z.enum(['none', 'auto', 'required']),
      z.looseObject({ function: z.looseObject({ name: z.string().min(1) }) }),
    ])
    .nullish(),
  add_generation_prompt: z.boolean().nullish(),
  max_completion_tokens: tokenLimit,
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
});

const completionRequestSchema = z.looseObject({
  ...commonFields,
  prompt: z.union([z.string(), z.array(z.string()).length(1), tokenIds, z.array(tokenIds).length(1)], {
    error: 'prompt must be a string or token ids (the simulator serves one prompt per request)',
  }),
  logprobs: z.number().int().min(0).max(20).nullish(),
});

export type GenerationKind = 'chat' | 'completion';

export interface GenerationRequest {
  kind: GenerationKind;
  output: OutputRequest;
  stream: boolean;
  includeUsage: boolean;
  /** How many alternatives per token when logprobs were asked for; null when they were not. */
  topLogprobs: number | null;
}

export function stopList(stop: z.infer<typeof stopField>): string[] {
  if (stop === null || stop === undefined) return [];
  return typeof stop === 'string' ? [stop] : stop;
}

/** vLLM accepts `guided_json` as a schema object or as its JSON text. */
function schemaOf(guided: unknown): unknown {
  if (typeof guided !== 'string') return guided;
  try {
    return JSON.parse(guided) as unknown;
  } catch (cause) {
    throw new SimError('guided_json is not valid JSON', { status: 400, param: 'guided_json', cause });
  }
}

/** The output's shape from response_format and vLLM's guided fields (tools are decided apart). */
export function structuredShape(request: z.infer<z.ZodObject<typeof guidedFields>>): OutputShape {
  const format = request.response_format;
  const guidedJson = request.structured_outputs?.json ?? request.guided_json;
  const guidedChoice = request.structured_outputs?.choice ?? request.guided_choice;
  if (guidedChoice !== undefined && guidedChoice !== null) return { kind: 'choice', options: guidedChoice };
  if (guidedJson !== undefined && guidedJson !== null) return { kind: 'json', schema: schemaOf(guidedJson) };
  if (format?.type === 'json_schema') return { kind: 'json', schema: format.json_schema?.schema ?? {} };
  if (format?.type === 'json_object') return { kind: 'json' };
  return { kind: 'text' };
}

export function chatToolChoice(
  choice: z.infer<typeof chatRequestSchema>['tool_choice'],
): ToolChoice | undefined {
  if (choice === null || choice === undefined || typeof choice === 'string') return choice ?? undefined;
  return { name: choice.function.name };
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
  if (common.model !== options.servedModelName) throw unknownModel(common.model);
  let promptTokens: string[];
  let limit = common.max_tokens ?? undefined;
  let shape = structuredShape(common);
  let topLogprobs: number | null = null;
  if (kind === 'chat') {
    const chat = validateBody(chatRequestSchema, body);
    promptTokens = tokenizeText(renderChat(chat.messages, chat.tools, chat.add_generation_prompt ?? true));
    limit = chat.max_completion_tokens ?? limit;
    const tools: ToolSpec[] = (chat.tools ?? []).map((tool) => ({
      name: tool.function.name,
      parameters: tool.function.parameters,
    }));
    const afterToolResult = chat.messages.at(-1)?.role === 'tool';
    const tool = decideTool(
      tools,
      chatToolChoice(chat.tool_choice),
      afterToolResult,
      promptSeed(promptTokens, chat.seed ?? undefined),
    );
    if (tool !== undefined) shape = { kind: 'tool_call', tool };
    if (chat.logprobs === true) topLogprobs = chat.top_logprobs ?? 0;
  } else {
    const completion = validateBody(completionRequestSchema, body);
    promptTokens = promptTokensOf(completion.prompt);
    topLogprobs = completion.logprobs ?? null;
  }
  return {
    kind,
    output: {
      promptTokens,
      limit,
      limitMode: 'exact',
      n: common.n ?? 1,
      seed: common.seed ?? undefined,
      stop: stopList(common.stop),
      shape,
      cacheSalt: common.cache_salt ?? '',
    },
    stream: common.stream === true,
    includeUsage: common.stream_options?.include_usage === true,
    topLogprobs,
  };
}
