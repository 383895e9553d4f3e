/**
 * The pooling family beyond embeddings, in vLLM's shapes: `/pooling`, `/classify`, `/score`,
 * `/rerank` (also `/v1/rerank` and `/v2/rerank`, Jina- and Cohere-compatible) and Cohere's
 * `/v2/embed`. Relevance is lexical: the share of the query's words found in the document, plus a
 * small hashed jitter that breaks ties, so the document that shares the query's words ranks first.
 */
import { z } from 'zod';
import { sendJson, validateBody } from '../http-io.ts';
import type { RouteCall, SimContext } from '../sim-context.ts';
import { SimError, unknownModel } from '../sim-error.ts';
import { seededRandom, seedOf } from '../text-model.ts';
import { simId } from './chat-shapes.ts';
import { countTokens, poolingInput, poolingTexts, vectorOf } from './embeddings.ts';

const CLASS_LABELS = ['negative', 'positive'];

const wordsOf = (text: string): Set<string> => new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);

/** 0..1: the share of the query's words in the document, and up to 0.05 of deterministic jitter. */
export function relevance(query: string, document: string): number {
  const queryWords = wordsOf(query);
  const documentWords = wordsOf(document);
  const shared = [...queryWords].filter((word) => documentWords.has(word)).length;
  const overlap = queryWords.size === 0 ? 0 : shared / queryWords.size;
  return (
    Math.round((0.95 * overlap + 0.05 * seededRandom(seedOf(`${query}\u0000${document}`))()) * 1e6) / 1e6
  );
}

function checkModel(context: SimContext, model: string | null | undefined): void {
  if (model !== undefined && model !== null && model !== context.options.servedModelName)
    throw unknownModel(model);
}

function listEnvelope(context: SimContext, prefix: string, promptTokens: number) {
  return {
    id: simId(prefix),
    object: 'list',
    created: Math.floor(Date.now() / 1000),
    model: context.options.servedModelName,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens, completion_tokens: 0 },
  };
}

const inputRequest = z.looseObject({ model: z.string().nullish(), input: poolingInput });

export async function answerPooling(context: SimContext, call: RouteCall): Promise<void> {
  const request = validateBody(inputRequest, call.body);
  checkModel(context, request.model);
  const texts = poolingTexts(request.input);
  const promptTokens = countTokens(texts);
  await context.engine.embed(promptTokens, call.signal);
  const data = texts.map((text, index) => ({
    index,
    object: 'pooling',
    data: Array.from(vectorOf(text, context.options.embeddingDim)),
  }));
  sendJson(call.response, 200, { ...listEnvelope(context, 'pool-', promptTokens), data });
}

export async function answerClassify(context: SimContext, call: RouteCall): Promise<void> {
  const request = validateBody(inputRequest, call.body);
  checkModel(context, request.model);
  const texts = poolingTexts(request.input);
  const promptTokens = countTokens(texts);
  await context.engine.embed(promptTokens, call.signal);
  const data = texts.map((text, index) => {
    const positive = Math.round(seededRandom(seedOf(text))() * 1e6) / 1e6;
    const probs = [1 - positive, positive];
    return { index, label: CLASS_LABELS[positive >= 0.5 ? 1 : 0], probs, num_classes: probs.length };
  });
  sendJson(call.response, 200, { ...listEnvelope(context, 'classify-', promptTokens), data });
}

const textOrTexts = z.union([z.string(), z.array(z.string()).min(1)]);
const scoreRequest = z.looseObject({ model: z.string().nullish(), text_1: textOrTexts, text_2: textOrTexts });

/** vLLM's pairing: one text_1 against every text_2, or two lists of equal length pairwise. */
function scorePairs(first: string | string[], second: string | string[]): Array<[string, string]> {
  const seconds = typeof second === 'string' ? [second] : second;
  if (typeof first === 'string') return seconds.map((text) => [first, text]);
  if (first.length === 1) return seconds.map((text) => [first[0] ?? '', text]);
  if (first.length !== seconds.length) {
    throw new SimError('text_1 and text_2 must have the same length, or text_1 must be a single text', {
      status: 400,
      param: 'text_1',
    });
  }
  return first.map((text, index) => [text, seconds[index] ?? '']);
}

export async function answerScore(context: SimContext, call: RouteCall): Promise<void> {
  const request = validateBody(scoreRequest, call.body);
  checkModel(context, request.model);
  const pairs = scorePairs(request.text_1, request.text_2);
  const promptTokens = countTokens(pairs.flat());
  await context.engine.embed(promptTokens, call.signal);
  const data = pairs.map(([query, document], index) => ({
    index,
    object: 'score',
    score: relevance(query, document),
  }));
  sendJson(call.response, 200, { ...listEnvelope(context, 'score-', promptTokens), data });
}

const rerankRequest = z.looseObject({
  model: z.string().nullish(),
  query: z.string(),
  documents: z.array(z.union([z.string(), z.looseObject({ text: z.string() })])).min(1),
  top_n: z.number().int().min(0).nullish(),
});

export async function answerRerank(context: SimContext, call: RouteCall): Promise<void> {
  const request = validateBody(rerankRequest, call.body);
  checkModel(context, request.model);
  const documents = request.documents.map((document) =>
    typeof document === 'string' ? document : document.text,
  );
  const promptTokens = countTokens([request.query, ...documents]);
  await context.engine.embed(promptTokens, call.signal);
  const ranked = documents
    .map((text, index) => ({ index, document: { text }, relevance_score: relevance(request.query, text) }))
    .sort((left, right) => right.relevance_score - left.relevance_score);
  const topN =
    request.top_n === null || request.top_n === undefined || request.top_n === 0
      ? ranked.length
      : request.top_n;
  sendJson(call.response, 200, {
    id: simId('rerank-'),
    model: context.options.servedModelName,
    usage: { total_tokens: promptTokens },
    results: ranked.slice(0, topN),
  });
}

const cohereEmbedRequest = z.looseObject({
  model: z.string().min(1),
  texts: z.array(z.string()).min(1),
  input_type: z.string().nullish(),
  embedding_types: z
    .array(z.enum(['float', 'base64']))
    .min(1)
    .nullish(),
  output_dimension: z.number().int().min(1).nullish(),
});

/** Cohere's `/v2/embed` (the float and base64 types; quantized types are not simulated). */
export async function answerCohereEmbed(context: SimContext, call: RouteCall): Promise<void> {
  const request = validateBody(cohereEmbedRequest, call.body);
  checkModel(context, request.model);
  const dimensions = request.output_dimension ?? undefined;
  if (dimensions !== undefined && dimensions > context.options.embeddingDim) {
    throw new SimError(`output_dimension must be at most ${context.options.embeddingDim}`, {
      status: 400,
      param: 'output_dimension',
    });
  }
  const promptTokens = countTokens(request.texts);
  await context.engine.embed(promptTokens, call.signal);
  const vectors = request.texts.map((text) => vectorOf(text, context.options.embeddingDim, dimensions));
  const embeddings: Record<string, unknown> = {};
  for (const type of request.embedding_types ?? ['float']) {
    embeddings[type] = vectors.map((vector) =>
      type === 'float' ? Array.from(vector) : Buffer.from(vector.buffer).toString('base64'),
    );
  }
  sendJson(call.response, 200, {
    id: simId('embed-'),
    embeddings,
    texts: request.texts,
    meta: { api_version: { version: '2' }, billed_units: { input_tokens: promptTokens } },
    response_type: 'embeddings_by_type',
  });
}
