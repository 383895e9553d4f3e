/**
 * The routes each kind of engine serves, as its documentation lists them (docs/api.md has the
 * table), in the gateway's spelling (src/protocol/engine-routes.ts). The agent reports them with
 * each engine, so the gateway sends a route only to engines that serve it. A kind's list is what
 * its current version serves; an engine that answers 404 anyway is the engine's answer to give.
 */
import { engineRoute as route, type EngineRoute } from '../../src/protocol/engine-routes.ts';
import { servedRoutes } from '../sim/endpoints.ts';
import type { SimOptions } from '../sim/options.ts';
import type { EngineConfig } from './engine-adapter.ts';

const CHAT_AND_COMPLETIONS = [route('POST', '/v1/chat/completions'), route('POST', '/v1/completions')];
const MESSAGES = [route('POST', '/v1/messages'), route('POST', '/v1/messages/count_tokens')];
/** Stored responses: create, retrieve, cancel. */
const RESPONSES = [
  route('POST', '/v1/responses'),
  route('GET', '/v1/responses/:id'),
  route('POST', '/v1/responses/:id/cancel'),
];

/**
 * vLLM serves every API whatever the model's task (a generative model answers the pooling APIs
 * with its own 400, and the reverse), so the list does not depend on the model.
 */
export const VLLM_ROUTES: readonly EngineRoute[] = [
  ...CHAT_AND_COMPLETIONS,
  route('POST', '/v1/chat/completions/batch'),
  ...RESPONSES,
  ...MESSAGES,
  route('POST', '/v1/embeddings'),
  route('POST', '/v2/embed'),
  route('POST', '/pooling'),
  route('POST', '/classify'),
  route('POST', '/score'),
  route('POST', '/v1/score'),
  route('POST', '/rerank'),
  route('POST', '/v1/rerank'),
  route('POST', '/v2/rerank'),
  route('POST', '/tokenize'),
  route('POST', '/detokenize'),
  route('POST', '/v1/audio/transcriptions'),
  route('POST', '/v1/audio/translations'),
  route('GET', '/v1/realtime'),
];

export const SGLANG_ROUTES: readonly EngineRoute[] = [
  ...CHAT_AND_COMPLETIONS,
  ...RESPONSES,
  ...MESSAGES,
  route('POST', '/v1/embeddings'),
  route('POST', '/v1/rerank'),
  route('POST', '/v1/score'),
  route('POST', '/v1/classify'),
  route('POST', '/v1/tokenize'),
  route('POST', '/v1/detokenize'),
];

export const LMDEPLOY_ROUTES: readonly EngineRoute[] = [
  ...CHAT_AND_COMPLETIONS,
  route('POST', '/v1/chat/interactive'),
  route('POST', '/v1/embeddings'),
  route('POST', '/pooling'),
  ...MESSAGES,
  route('POST', '/v1/responses'),
];

export const LLAMACPP_ROUTES: readonly EngineRoute[] = [
  ...CHAT_AND_COMPLETIONS,
  route('POST', '/v1/embeddings'),
  ...MESSAGES,
  route('POST', '/tokenize'),
  route('POST', '/detokenize'),
  route('POST', '/rerank'),
  route('POST', '/v1/rerank'),
];

/** The simulator's own table for its `--task` (default `generate`), plus its realtime WebSocket. */
export function simRoutes(engine: Pick<EngineConfig, 'args'>): EngineRoute[] {
  const task = flagValue(engine.args, '--task') === 'embed' ? 'embed' : 'generate';
  const http = servedRoutes(task as SimOptions['task']).map((r) => route(r.method, r.path));
  return task === 'generate' ? [...http, route('GET', '/v1/realtime')] : http;
}

/** The value of `--flag value` or `--flag=value` in an argument list (the last one wins, as in argv parsers). */
function flagValue(args: readonly string[], flag: string): string | undefined {
  let value: string | undefined;
  args.forEach((arg, index) => {
    if (arg === flag) value = args[index + 1];
    else if (arg.startsWith(`${flag}=`)) value = arg.slice(flag.length + 1);
  });
  return value;
}
