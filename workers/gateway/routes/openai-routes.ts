/**
 * The flat table of OpenAI-compatible routes the gateway forwards, with how each one's body
 * is read. Paths follow what vLLM, SGLang, LMDeploy and gpt_server serve.
 */
import type { z } from 'zod';
import {
  ChatCompletionSchema,
  CompletionSchema,
  EmbeddingSchema,
  InteractiveSchema,
  ModelRoutedSchema,
  SpeechSchema,
} from '../../../src/openai/request-schemas.ts';

export type RouteSpec =
  | { path: string; body: 'json'; schema: z.ZodType; sessionField?: 'session_id' }
  | { path: string; body: 'multipart' };

const json = (path: string, schema: z.ZodType = ModelRoutedSchema): RouteSpec => ({
  path,
  body: 'json',
  schema,
});

export const OPENAI_ROUTES: RouteSpec[] = [
  json('/v1/chat/completions', ChatCompletionSchema),
  json('/v1/completions', CompletionSchema),
  json('/v1/embeddings', EmbeddingSchema),
  json('/v1/rerank'),
  json('/rerank'),
  json('/v2/rerank'),
  json('/v1/score'),
  json('/score'),
  json('/classify'),
  json('/pooling'),
  json('/tokenize'),
  json('/detokenize'),
  json('/v1/moderations'),
  json('/v1/images/generations'),
  json('/v1/audio/speech', SpeechSchema),
  { path: '/v1/chat/interactive', body: 'json', schema: InteractiveSchema, sessionField: 'session_id' },
  { path: '/v1/audio/transcriptions', body: 'multipart' },
  { path: '/v1/audio/translations', body: 'multipart' },
];
