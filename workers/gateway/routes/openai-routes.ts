/**
 * The flat table of OpenAI-compatible routes the gateway forwards, with how each one's body
 * is read. Paths follow what vLLM, SGLang, LMDeploy and gpt_server serve.
 */
import type * as z from '../../../src/zod-mini.ts';
import {
  ChatBatchSchema,
  ChatCompletionSchema,
  CompletionSchema,
  EmbeddingSchema,
  InteractiveSchema,
  ModelRoutedSchema,
  SpeechSchema,
} from '../../../src/openai/request-schemas.ts';

export type JsonRouteSpec = {
  path: string;
  body: 'json';
  schema: z.ZodMiniType;
  sessionField?: 'session_id';
  /** Generates text: a completion is reserved and streams are asked for their usage. */
  generates?: boolean;
};

export type RouteSpec = JsonRouteSpec | { path: string; body: 'multipart' };

const json = (path: string, schema: z.ZodMiniType = ModelRoutedSchema): JsonRouteSpec => ({
  path,
  body: 'json',
  schema,
});

const generating = (path: string, schema: z.ZodMiniType): JsonRouteSpec => ({
  ...json(path, schema),
  generates: true,
});

export const OPENAI_ROUTES: RouteSpec[] = [
  generating('/v1/chat/completions', ChatCompletionSchema),
  generating('/v1/completions', CompletionSchema),
  generating('/v1/chat/completions/batch', ChatBatchSchema),
  json('/v1/embeddings', EmbeddingSchema),
  json('/v2/embed'),
  json('/v1/rerank'),
  json('/rerank'),
  json('/v2/rerank'),
  json('/v1/score'),
  json('/score'),
  json('/classify'),
  json('/v1/classify'),
  json('/pooling'),
  json('/tokenize'),
  json('/v1/tokenize'),
  json('/detokenize'),
  json('/v1/detokenize'),
  json('/v1/moderations'),
  json('/v1/images/generations'),
  json('/v1/audio/speech', SpeechSchema),
  { ...generating('/v1/chat/interactive', InteractiveSchema), sessionField: 'session_id' },
  { path: '/v1/audio/transcriptions', body: 'multipart' },
  { path: '/v1/audio/translations', body: 'multipart' },
];
