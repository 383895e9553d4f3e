/**
 * `/v1/embeddings`: deterministic unit vectors, one per input, each derived from a hash of its
 * text. `encoding_format: "base64"` (what the openai npm client asks for by default) returns the
 * little-endian float32 bytes, as OpenAI and vLLM do. `dimensions` keeps the leading components
 * and renormalizes them, as Matryoshka models do.
 */
import { z } from 'zod';
import { sendJson, validateBody } from '../http-io.ts';
import type { RouteCall, SimContext } from '../sim-context.ts';
import { SimError, unknownModel } from '../sim-error.ts';
import { embeddingOf, renderChat, tokenizeText } from '../text-model.ts';
import { simId } from './chat-shapes.ts';

const tokenIds = z.array(z.number().int().nonnegative());
export const poolingInput = z.union([
  z.string(),
  z.array(z.string()).min(1),
  tokenIds.min(1),
  z.array(tokenIds).min(1),
]);

const embeddingRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: poolingInput.optional(),
  /** vLLM also embeds a conversation rendered by the chat template. */
  messages: z
    .array(z.looseObject({ role: z.string(), content: z.unknown().optional() }))
    .min(1)
    .optional(),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().min(1).nullish(),
});

/** The texts of a pooling input: strings as they are, token ids rendered as `#<id>` runs. */
export function poolingTexts(input: z.infer<typeof poolingInput>): string[] {
  if (typeof input === 'string') return [input];
  const [first] = input;
  if (typeof first === 'number') return [(input as number[]).map((id) => `#${id}`).join('')];
  return (input as Array<string | number[]>).map((item) =>
    typeof item === 'string' ? item : item.map((id) => `#${id}`).join(''),
  );
}

export function countTokens(texts: readonly string[]): number {
  return texts.reduce((total, text) => total + tokenizeText(text).length, 0);
}

/** A unit vector for `text`, cut to `dimensions` components and renormalized. */
export function vectorOf(text: string, dimension: number, dimensions?: number): Float32Array {
  const full = embeddingOf(text, dimension);
  if (dimensions === undefined || dimensions === dimension) return full;
  const cut = full.slice(0, dimensions);
  const norm = Math.hypot(...cut) || 1;
  return cut.map((value) => value / norm);
}

export async function answerEmbeddings(context: SimContext, call: RouteCall): Promise<void> {
  const { options, engine } = context;
  const request = validateBody(embeddingRequestSchema, call.body);
  if (request.model !== options.servedModelName) throw unknownModel(request.model);
  const dimensions = request.dimensions ?? undefined;
  if (dimensions !== undefined && dimensions > options.embeddingDim) {
    throw new SimError(`dimensions must be at most ${options.embeddingDim}`, {
      status: 400,
      param: 'dimensions',
    });
  }
  let texts: string[];
  if (request.messages !== undefined) texts = [renderChat(request.messages, undefined, false)];
  else if (request.input !== undefined) texts = poolingTexts(request.input);
  else throw new SimError('either input or messages is required', { status: 400, param: 'input' });
  const promptTokens = countTokens(texts);
  await engine.embed(promptTokens, call.signal);

  const base64 = request.encoding_format === 'base64';
  const data = texts.map((text, index) => {
    const vector = vectorOf(text, options.embeddingDim, dimensions);
    const embedding = base64 ? Buffer.from(vector.buffer).toString('base64') : Array.from(vector);
    return { object: 'embedding', index, embedding };
  });
  sendJson(call.response, 200, {
    id: simId('embd-'),
    object: 'list',
    created: Math.floor(Date.now() / 1000),
    model: options.servedModelName,
    data,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
}
