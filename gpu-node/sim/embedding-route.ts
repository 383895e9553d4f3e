/**
 * `/v1/embeddings`: deterministic unit vectors, one per input, each derived from a hash of its
 * text. `encoding_format: "base64"` (what the openai npm client asks for by default) returns the
 * little-endian float32 bytes, as OpenAI and vLLM do.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { sendJson, validateBody } from './http-io.ts';
import type { SimOptions } from './options.ts';
import type { SimEngine } from './sim-engine.ts';
import { SimError } from './sim-error.ts';
import { embeddingOf, renderChat, tokenizeText } from './text-model.ts';

const tokenIds = z.array(z.number().int().nonnegative());
const embeddingRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z
    .union([z.string(), z.array(z.string()).min(1), tokenIds.min(1), z.array(tokenIds).min(1)])
    .optional(),
  /** vLLM also embeds a conversation rendered by the chat template. */
  messages: z
    .array(z.looseObject({ role: z.string(), content: z.unknown().optional() }))
    .min(1)
    .optional(),
  encoding_format: z.enum(['float', 'base64']).nullish(),
});

function inputTexts(request: z.infer<typeof embeddingRequestSchema>): string[] {
  if (request.messages !== undefined) return [renderChat(request.messages, undefined, false)];
  const { input } = request;
  if (input === undefined)
    throw new SimError('either input or messages is required', { status: 400, param: 'input' });
  if (typeof input === 'string') return [input];
  const [first] = input;
  if (typeof first === 'number') return [(input as number[]).map((id) => `#${id}`).join('')];
  return (input as Array<string | number[]>).map((item) =>
    typeof item === 'string' ? item : item.map((id) => `#${id}`).join(''),
  );
}

export async function answerEmbeddings(
  engine: SimEngine,
  options: SimOptions,
  body: unknown,
  response: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const request = validateBody(embeddingRequestSchema, body);
  if (request.model !== options.servedModelName) {
    throw new SimError(`The model \`${request.model}\` does not exist.`, { status: 404, param: 'model' });
  }
  const texts = inputTexts(request);
  const promptTokens = texts.reduce((total, text) => total + tokenizeText(text).length, 0);
  await engine.embed(promptTokens, signal);

  const base64 = request.encoding_format === 'base64';
  const data = texts.map((text, index) => {
    const vector = embeddingOf(text, options.embeddingDim);
    const embedding = base64 ? Buffer.from(vector.buffer).toString('base64') : Array.from(vector);
    return { object: 'embedding', index, embedding };
  });
  sendJson(response, 200, {
    id: `embd-${randomUUID().replaceAll('-', '')}`,
    object: 'list',
    created: Math.floor(Date.now() / 1000),
    model: options.servedModelName,
    data,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
}
