/**
 * Every HTTP route the simulator serves, in one flat table: method and path (`:name` segments are
 * parameters), the API name vLLM uses when a model does not serve it, the task that serves it,
 * whether it runs on the engine (fault injection, `--crash-after`), and how its body is read.
 * `GET /health`, `GET /v1/models`, `GET /metrics` and the `/v1/realtime` upgrade live in server.ts.
 */
import type { SimOptions } from './options.ts';
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

export interface SimRoute {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  api: string;
  /** `generate`: the generative APIs; `embed`: the pooling APIs; `any`: every model. */
  task: SimOptions['task'] | 'any';
  inference: boolean;
  body: 'json' | 'form' | 'none';
  answer: RouteHandler;
}

type Extra = Partial<Pick<SimRoute, 'inference' | 'body'>>;

const generate = (
  method: SimRoute['method'],
  path: string,
  api: string,
  answer: RouteHandler,
  extra: Extra = {},
): SimRoute => ({
  method,
  path,
  api,
  task: 'generate',
  inference: true,
  body: method === 'POST' ? 'json' : 'none',
  answer,
  ...extra,
});

const pool = (path: string, api: string, answer: RouteHandler): SimRoute => ({
  method: 'POST',
  path,
  api,
  task: 'embed',
  inference: true,
  body: 'json',
  answer,
});

const tokenizer = (path: string, answer: RouteHandler): SimRoute => ({
  method: 'POST',
  path,
  api: 'Tokenizer',
  task: 'any',
  inference: false,
  body: 'json',
  answer,
});

const state = { inference: false } as const;

export const SIM_ROUTES: readonly SimRoute[] = [
  generate('POST', '/v1/chat/completions', 'Chat Completions', generationRoute('chat')),
  generate('POST', '/v1/completions', 'Completions', generationRoute('completion')),
  generate('POST', '/v1/chat/completions/batch', 'Chat Completions', answerChatBatch),
  generate('POST', '/v1/responses', 'Responses', answerCreateResponse),
  generate('GET', '/v1/responses/:id', 'Responses', answerRetrieveResponse, state),
  generate('DELETE', '/v1/responses/:id', 'Responses', answerDeleteResponse, state),
  generate('POST', '/v1/responses/:id/cancel', 'Responses', answerCancelResponse, { ...state, body: 'none' }),
  generate('GET', '/v1/responses/:id/input_items', 'Responses', answerInputItems, state),
  generate('POST', '/v1/messages', 'Messages', answerMessages),
  generate('POST', '/v1/messages/count_tokens', 'Messages', answerCountTokens, state),
  generate('POST', '/v1/chat/interactive', 'Interactive', answerInteractive),
  generate('POST', '/v1/audio/transcriptions', 'Transcriptions', audioRoute('transcribe'), { body: 'form' }),
  generate('POST', '/v1/audio/translations', 'Translations', audioRoute('translate'), { body: 'form' }),
  generate('POST', '/v1/audio/speech', 'Speech', answerSpeech),
  generate('POST', '/v1/images/generations', 'Images', answerImages),
  pool('/v1/embeddings', 'Embeddings', answerEmbeddings),
  pool('/v2/embed', 'Embeddings', answerCohereEmbed),
  pool('/pooling', 'Pooling', answerPooling),
  pool('/classify', 'Classification', answerClassify),
  pool('/v1/classify', 'Classification', answerClassify),
  pool('/score', 'Score', answerScore),
  pool('/v1/score', 'Score', answerScore),
  pool('/rerank', 'Rerank', answerRerank),
  pool('/v1/rerank', 'Rerank', answerRerank),
  pool('/v2/rerank', 'Rerank', answerRerank),
  pool('/v1/moderations', 'Moderations', answerModerations),
  tokenizer('/tokenize', answerTokenize),
  tokenizer('/v1/tokenize', answerTokenize),
  tokenizer('/detokenize', answerDetokenize),
  tokenizer('/v1/detokenize', answerDetokenize),
];

/**
 * The HTTP routes a simulator with this task serves (besides `/health`, `/v1/models`, `/metrics`
 * and the `/v1/realtime` WebSocket, which a `generate` simulator serves), for adapters that declare
 * an engine's capabilities.
 */
export function servedRoutes(task: SimOptions['task']): Array<{ method: SimRoute['method']; path: string }> {
  return SIM_ROUTES.filter((route) => route.task === 'any' || route.task === task).map(
    ({ method, path }) => ({
      method,
      path,
    }),
  );
}

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
