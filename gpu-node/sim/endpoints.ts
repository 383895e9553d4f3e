/**
 * Every HTTP route the simulator serves, as data: method and path (`:name` segments are
 * parameters), the API name vLLM uses when a model does not serve it, the task that serves it,
 * whether it runs on the engine (fault injection, `--crash-after`), and how its body is read.
 * route-table.ts gives each its handler. Apart from it, so the agent can report a simulator's
 * routes without loading the simulator (tens of MB it would hold for nothing).
 * `GET /health`, `GET /v1/models`, `GET /metrics` and the `/v1/realtime` upgrade live in server.ts.
 */
import type { SimOptions } from './options.ts';

export interface SimEndpoint {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  api: string;
  /** `generate`: the generative APIs; `embed`: the pooling APIs; `any`: every model. */
  task: SimOptions['task'] | 'any';
  inference: boolean;
  body: 'json' | 'form' | 'none';
}

type Extra = Partial<Pick<SimEndpoint, 'inference' | 'body'>>;

const generate = <M extends SimEndpoint['method'], P extends string>(
  method: M,
  path: P,
  api: string,
  extra: Extra = {},
) => ({
  method,
  path,
  api,
  task: 'generate' as const,
  inference: true,
  body: method === 'POST' ? ('json' as const) : ('none' as const),
  ...extra,
});

const pool = <P extends string>(path: P, api: string) => ({
  method: 'POST' as const,
  path,
  api,
  task: 'embed' as const,
  inference: true,
  body: 'json' as const,
});

const tokenizer = <P extends string>(path: P) => ({
  method: 'POST' as const,
  path,
  api: 'Tokenizer',
  task: 'any' as const,
  inference: false,
  body: 'json' as const,
});

const state = { inference: false } as const;

export const SIM_ENDPOINTS = [
  generate('POST', '/v1/chat/completions', 'Chat Completions'),
  generate('POST', '/v1/completions', 'Completions'),
  generate('POST', '/v1/chat/completions/batch', 'Chat Completions'),
  generate('POST', '/v1/responses', 'Responses'),
  generate('GET', '/v1/responses/:id', 'Responses', state),
  generate('DELETE', '/v1/responses/:id', 'Responses', state),
  generate('POST', '/v1/responses/:id/cancel', 'Responses', { ...state, body: 'none' }),
  generate('GET', '/v1/responses/:id/input_items', 'Responses', state),
  generate('POST', '/v1/messages', 'Messages'),
  generate('POST', '/v1/messages/count_tokens', 'Messages', state),
  generate('POST', '/v1/chat/interactive', 'Interactive'),
  generate('POST', '/v1/audio/transcriptions', 'Transcriptions', { body: 'form' }),
  generate('POST', '/v1/audio/translations', 'Translations', { body: 'form' }),
  generate('POST', '/v1/audio/speech', 'Speech'),
  generate('POST', '/v1/images/generations', 'Images'),
  pool('/v1/embeddings', 'Embeddings'),
  pool('/v2/embed', 'Embeddings'),
  pool('/pooling', 'Pooling'),
  pool('/classify', 'Classification'),
  pool('/v1/classify', 'Classification'),
  pool('/score', 'Score'),
  pool('/v1/score', 'Score'),
  pool('/rerank', 'Rerank'),
  pool('/v1/rerank', 'Rerank'),
  pool('/v2/rerank', 'Rerank'),
  pool('/v1/moderations', 'Moderations'),
  tokenizer('/tokenize'),
  tokenizer('/v1/tokenize'),
  tokenizer('/detokenize'),
  tokenizer('/v1/detokenize'),
] satisfies readonly SimEndpoint[];

/** `METHOD path`, the key route-table.ts gives each endpoint its handler by. */
export type EndpointKey = KeyOf<(typeof SIM_ENDPOINTS)[number]>;
type KeyOf<E> = E extends { method: infer M extends string; path: infer P extends string }
  ? `${M} ${P}`
  : never;

/**
 * The HTTP routes a simulator with this task serves (besides `/health`, `/v1/models`, `/metrics`
 * and the `/v1/realtime` WebSocket, which a `generate` simulator serves), for adapters that declare
 * an engine's capabilities.
 */
export function servedRoutes(
  task: SimOptions['task'],
): Array<{ method: SimEndpoint['method']; path: string }> {
  return SIM_ENDPOINTS.filter((route) => route.task === 'any' || route.task === task).map(
    ({ method, path }) => ({ method, path }),
  );
}
