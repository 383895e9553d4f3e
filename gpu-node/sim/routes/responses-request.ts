/**
 * A `/v1/responses` body into what the simulator runs: the conversation (the stored one behind
 * `previous_response_id`, then this input), the rendered prompt, the output's shape (a function
 * call, JSON from `text.format`, or text) and the input items as `/input_items` lists them.
 */
import { z } from 'zod';
import {
  decideTool,
  type OutputRequest,
  type OutputShape,
  promptSeed,
  type ToolChoice,
} from '../generation/output-plan.ts';
import { validateBody } from '../http-io.ts';
import type { SimContext } from '../sim-context.ts';
import { SimError, unknownModel } from '../sim-error.ts';
import { type ChatMessageLike, renderChat, tokenizeText } from '../text-model.ts';
import { simId } from './chat-shapes.ts';

const inputItemSchema = z.looseObject({
  type: z.string().optional(),
  role: z.string().optional(),
  content: z.unknown().optional(),
  call_id: z.string().optional(),
  name: z.string().optional(),
  arguments: z.string().optional(),
  output: z.unknown().optional(),
});

export const responsesRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(inputItemSchema)]),
  instructions: z.string().nullish(),
  previous_response_id: z.string().nullish(),
  max_output_tokens: z.number().int().min(1).nullish(),
  stream: z.boolean().nullish(),
  store: z.boolean().nullish(),
  background: z.boolean().nullish(),
  tools: z
    .array(
      z.looseObject({ type: z.string(), name: z.string().optional(), parameters: z.unknown().optional() }),
    )
    .nullish(),
  tool_choice: z
    .union([
      z.enum(['none', 'auto', 'required']),
      z.looseObject({ type: z.string(), name: z.string().optional() }),
    ])
    .nullish(),
  text: z
    .looseObject({ format: z.looseObject({ type: z.string(), schema: z.unknown().optional() }).optional() })
    .nullish(),
  seed: z.number().int().nullish(),
});

export type ResponsesRequest = z.infer<typeof responsesRequestSchema>;
type InputItem = z.infer<typeof inputItemSchema>;

export interface ParsedResponsesRequest {
  request: ResponsesRequest;
  output: OutputRequest;
  /** The conversation before this response's output. */
  conversation: ChatMessageLike[];
  inputItems: Array<Record<string, unknown>>;
}

export function responseNotFound(id: string): SimError {
  return new SimError(`Response with id '${id}' not found.`, { status: 404, type: 'invalid_request_error' });
}

/** The input as items with ids, content as typed parts (what `/input_items` returns). */
function normalizeItems(input: ResponsesRequest['input']): Array<Record<string, unknown>> {
  const items: InputItem[] =
    typeof input === 'string' ? [{ type: 'message', role: 'user', content: input }] : input;
  return items.map((item) => {
    const type = item.type ?? 'message';
    if (type !== 'message') return { id: simId(type === 'function_call' ? 'fc_' : 'item_'), ...item, type };
    const partType = item.role === 'assistant' ? 'output_text' : 'input_text';
    const content =
      typeof item.content === 'string' ? [{ type: partType, text: item.content }] : item.content;
    return { id: simId('msg_'), ...item, type, content };
  });
}

function asMessage(item: Record<string, unknown>): ChatMessageLike | undefined {
  switch (item.type) {
    case 'message':
      return { role: String(item.role ?? 'user'), content: item.content };
    case 'function_call':
      return {
        role: 'assistant',
        tool_calls: [
          { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } },
        ],
      };
    case 'function_call_output':
      return {
        role: 'tool',
        content: typeof item.output === 'string' ? item.output : JSON.stringify(item.output),
      };
    default:
      return undefined;
  }
}

function toolChoiceOf(choice: ResponsesRequest['tool_choice']): ToolChoice | undefined {
  if (choice === null || choice === undefined || typeof choice === 'string') return choice ?? undefined;
  return choice.name === undefined ? 'required' : { name: choice.name };
}

export function parseResponsesRequest(context: SimContext, body: unknown): ParsedResponsesRequest {
  const request = validateBody(responsesRequestSchema, body);
  if (request.model !== context.options.servedModelName) throw unknownModel(request.model);
  const previousId = request.previous_response_id;
  const previous =
    previousId === null || previousId === undefined ? undefined : context.responses.get(previousId);
  if (previousId !== null && previousId !== undefined && previous === undefined)
    throw responseNotFound(previousId);

  const inputItems = normalizeItems(request.input);
  const conversation = [
    ...(previous?.conversation ?? []),
    ...inputItems.map(asMessage).filter((message) => message !== undefined),
  ];
  const instructions = request.instructions ? [{ role: 'system', content: request.instructions }] : [];
  const functionTools = (request.tools ?? []).filter(
    (tool) => tool.type === 'function' && tool.name !== undefined,
  );
  const promptTokens = tokenizeText(
    renderChat(
      [...instructions, ...conversation],
      functionTools.length > 0 ? functionTools : undefined,
      true,
    ),
  );

  const format = request.text?.format;
  let shape: OutputShape =
    format?.type === 'json_schema'
      ? { kind: 'json', schema: format.schema ?? {} }
      : format?.type === 'json_object'
        ? { kind: 'json' }
        : { kind: 'text' };
  const tools = functionTools.map((tool) => ({ name: tool.name ?? '', parameters: tool.parameters }));
  const afterToolResult = inputItems.at(-1)?.type === 'function_call_output';
  const tool = decideTool(
    tools,
    toolChoiceOf(request.tool_choice),
    afterToolResult,
    promptSeed(promptTokens, request.seed ?? undefined),
  );
  if (tool !== undefined) shape = { kind: 'tool_call', tool };

  return {
    request,
    conversation,
    inputItems,
    output: {
      promptTokens,
      limit: request.max_output_tokens ?? undefined,
      limitMode: 'exact',
      n: 1,
      seed: request.seed ?? undefined,
      stop: [],
      shape,
      cacheSalt: '',
    },
  };
}
