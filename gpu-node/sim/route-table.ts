/**
 * The simulator's HTTP routes (endpoints.ts) with their handlers, and the lookup of a request's
 * route. `GET /health`, `GET /v1/models`, `GET /metrics` and the `/v1/realtime` upgrade live in
 * server.ts.
 */
import { type EndpointKey, SIM_ENDPOINTS, type SimEndpoint } from './endpoints.ts';
import type { RouteHandler } from './sim-context.ts';
import { audioRoute } from './routes/audio-transcription.ts';
import { answerSpeech } from './routes/audio-speech.ts';
import { generationRoute } from './routes/chat.ts';
import { answerChatBatch } from './routes/chat-batch.ts';
import { answerEmbeddings } from './routes/embeddings.ts';
import { answerImages } from './routes/images.ts';
import { answerInteractive } from './routes/interactive.ts';
import { answerCountTokens, answerMessages } from './routes/messages.ts';
import { answerModerations } from './routes/moderations.ts';
import {
  answerClassify,
  answerCohereEmbed,
  answerPooling,
  answerRerank,
  answerScore,
} from './routes/pooling.ts';
import {
  answerCancelResponse,
  answerCreateResponse,
  answerDeleteResponse,
  answerInputItems,
  answerRetrieveResponse,
} from './routes/responses.ts';
import { answerDetokenize, answerTokenize } from './routes/tokenize.ts';

export interface SimRoute extends SimEndpoint {
  answer: RouteHandler;
}

const HANDLERS: Record<EndpointKey, RouteHandler> = {
  'POST /v1/chat/completions': generationRoute('chat'),
  'POST /v1/completions': generationRoute('completion'),
  'POST /v1/chat/completions/batch': answerChatBatch,
  'POST /v1/responses': answerCreateResponse,
  'GET /v1/responses/:id': answerRetrieveResponse,
  'DELETE /v1/responses/:id': answerDeleteResponse,
  'POST /v1/responses/:id/cancel': answerCancelResponse,
  'GET /v1/responses/:id/input_items': answerInputItems,
  'POST /v1/messages': answerMessages,
  'POST /v1/messages/count_tokens': answerCountTokens,
  'POST /v1/chat/interactive': answerInteractive,
  'POST /v1/audio/transcriptions': audioRoute('transcribe'),
  'POST /v1/audio/translations': audioRoute('translate'),
  'POST /v1/audio/speech': answerSpeech,
  'POST /v1/images/generations': answerImages,
  'POST /v1/embeddings': answerEmbeddings,
  'POST /v2/embed': answerCohereEmbed,
  'POST /pooling': answerPooling,
  'POST /classify': answerClassify,
  'POST /v1/classify': answerClassify,
  'POST /score': answerScore,
  'POST /v1/score': answerScore,
  'POST /rerank': answerRerank,
  'POST /v1/rerank': answerRerank,
  'POST /v2/rerank': answerRerank,
  'POST /v1/moderations': answerModerations,
  'POST /tokenize': answerTokenize,
  'POST /v1/tokenize': answerTokenize,
  'POST /detokenize': answerDetokenize,
  'POST /v1/detokenize': answerDetokenize,
};

export const SIM_ROUTES: readonly SimRoute[] = SIM_ENDPOINTS.map((endpoint) => ({
  ...endpoint,
  // TypeScript cannot tie a template of two fields of one union member to that member's key.
  answer: HANDLERS[`${endpoint.method} ${endpoint.path}` as EndpointKey],
}));

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The route for a method and path, with its path parameters; `pathKnown` when only the method is wrong. */
export function matchRoute(
  method: string,
  path: string,
): { route: SimRoute; params: Record<string, string> } | { route: undefined; pathKnown: boolean } {
  const segments = path.split('/');
  let pathKnown = false;
  for (const route of SIM_ROUTES) {
    const pattern = route.path.split('/');
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = pattern.every((part, index) => {
      const segment = segments[index] ?? '';
      if (part.startsWith(':')) {
        params[part.slice(1)] = safeDecode(segment);
        return segment !== '';
      }
      return part === segment;
    });
    if (!matches) continue;
    if (route.method === method) return { route, params };
    pathKnown = true;
  }
  return { route: undefined, pathKnown };
}
