/**
 * An Anthropic Messages body (`/v1/messages`, `/v1/messages/count_tokens`) into the simulator's
 * terms: system prompt and content blocks rendered through the chat template, `tools` with
 * `tool_choice` (`auto`, `any`, `tool`, `none`), `stop_sequences`, and `max_tokens` as a ceiling.
 */
import { z } from 'zod';
import { decideTool, type OutputRequest, promptSeed, type ToolChoice } from '../generation/output-plan.ts';
import { validateBody } from '../http-io.ts';
import type { SimOptions } from '../options.ts';
import { unknownModel } from '../sim-error.ts';
import { type ChatMessageLike, renderChat, tokenizeText } from '../text-model.ts';

const contentBlock = z.looseObject({ type: z.string() });
const content = z.union([z.string(), z.array(contentBlock)]);

const messagesFields = {
  model: z.string().min(1),
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']), content })).min(1),
  system: content.nullish(),
  tools: z
    .array(
      z.looseObject({
        name: z.string().min(1),
        input_schema: z.unknown().optional(),
        type: z.string().optional(),
      }),
    )
    .nullish(),
  tool_choice: z
    .looseObject({ type: z.enum(['auto', 'any', 'tool', 'none']), name: z.string().optional() })
    .nullish(),
};

export const countTokensSchema = z.looseObject(messagesFields);

export const messagesRequestSchema = z.looseObject({
  ...messagesFields,
  max_tokens: z.number().int().min(1),
  stop_sequences: z.array(z.string()).nullish(),
  stream: z.boolean().nullish(),
});

export type MessagesRequest = z.infer<typeof messagesRequestSchema>;

/** One content block as the chat template sees it. */
function blockText(block: Record<string, unknown>): string {
  switch (block.type) {
    case 'text':
      return String(block.text ?? '');
    case 'tool_use':
      return JSON.stringify({ tool_use: block.name, input: block.input });
    case 'tool_result':
      return typeof block.content === 'string' ? block.content : JSON.stringify(block.content ?? '');
    default:
      return `<${String(block.type)}>`;
  }
}

function asMessage(role: string, value: z.infer<typeof content>): ChatMessageLike {
  return { role, content: typeof value === 'string' ? value : value.map(blockText).join('') };
}

/** The rendered prompt's tokens (what `count_tokens` reports and `input_tokens` counts). */
export function promptTokensOf(request: z.infer<typeof countTokensSchema>): string[] {
  const system =
    request.system === null || request.system === undefined ? [] : [asMessage('system', request.system)];
  const messages = request.messages.map((message) => asMessage(message.role, message.content));
  return tokenizeText(renderChat([...system, ...messages], request.tools ?? undefined, true));
}

function toolChoiceOf(choice: MessagesRequest['tool_choice']): ToolChoice | undefined {
  if (choice === null || choice === undefined) return undefined;
  if (choice.type === 'any') return 'required';
  if (choice.type === 'tool') return { name: choice.name ?? '' };
  return choice.type;
}

export function checkMessagesModel(options: SimOptions, model: string): void {
  if (model !== options.servedModelName) throw unknownModel(model);
}

export function parseMessagesRequest(
  body: unknown,
  options: SimOptions,
): { request: MessagesRequest; output: OutputRequest } {
  const request = validateBody(messagesRequestSchema, body);
  checkMessagesModel(options, request.model);
  const promptTokens = promptTokensOf(request);
  const tools = (request.tools ?? []).map((tool) => ({ name: tool.name, parameters: tool.input_schema }));
  const last = request.messages.at(-1)?.content;
  const afterToolResult = Array.isArray(last) && last.some((block) => block.type === 'tool_result');
  const tool = decideTool(
    tools,
    toolChoiceOf(request.tool_choice),
    afterToolResult,
    promptSeed(promptTokens, undefined),
  );
  return {
    request,
    output: {
      promptTokens,
      limit: request.max_tokens,
      limitMode: 'cap',
      n: 1,
      seed: undefined,
      stop: request.stop_sequences ?? [],
      shape: tool === undefined ? { kind: 'text' } : { kind: 'tool_call', tool },
      cacheSalt: '',
    },
  };
}
