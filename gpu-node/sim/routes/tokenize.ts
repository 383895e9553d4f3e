/**
 * vLLM's `/tokenize` and `/detokenize` (SGLang's `/v1/…` spellings too). Tokenizing runs in the API
 * server, not on the engine: no batch slot, no fault injection. The ids round-trip (token-ids.ts).
 */
import { z } from 'zod';
import { sendJson, validateBody } from '../http-io.ts';
import type { RouteCall, SimContext } from '../sim-context.ts';
import { SimError, unknownModel } from '../sim-error.ts';
import { renderChat, tokenizeText } from '../text-model.ts';
import { tokenIdOf, tokenOfId } from '../token-ids.ts';
import { chatMessageSchema } from './openai-request.ts';

const tokenizeRequest = z.looseObject({
  model: z.string().nullish(),
  prompt: z.string().optional(),
  messages: z.array(chatMessageSchema).min(1).optional(),
  tools: z.unknown().optional(),
  add_generation_prompt: z.boolean().nullish(),
  return_token_strs: z.boolean().nullish(),
});

const detokenizeRequest = z.looseObject({
  model: z.string().nullish(),
  tokens: z.array(z.number().int().nonnegative()),
});

function checkModel(context: SimContext, model: string | null | undefined): void {
  if (model !== undefined && model !== null && model !== context.options.servedModelName)
    throw unknownModel(model);
}

export async function answerTokenize(context: SimContext, call: RouteCall): Promise<void> {
  const request = validateBody(tokenizeRequest, call.body);
  checkModel(context, request.model);
  let text: string;
  if (request.messages !== undefined) {
    text = renderChat(request.messages, request.tools, request.add_generation_prompt ?? true);
  } else if (request.prompt !== undefined) {
    text = request.prompt;
  } else {
    throw new SimError('either prompt or messages is required', { status: 400, param: 'prompt' });
  }
  const tokens = tokenizeText(text);
  sendJson(call.response, 200, {
    count: tokens.length,
    max_model_len: context.options.maxModelLen,
    tokens: tokens.map(tokenIdOf),
    token_strs: request.return_token_strs === true ? tokens : null,
  });
}

export async function answerDetokenize(context: SimContext, call: RouteCall): Promise<void> {
  const request = validateBody(detokenizeRequest, call.body);
  checkModel(context, request.model);
  sendJson(call.response, 200, { prompt: request.tokens.map(tokenOfId).join('') });
}
