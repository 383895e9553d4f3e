/**
 * The HTTP calls every adapter makes to its engine on loopback: readiness probes and scrapes.
 * Every call carries the engine's API key: vLLM leaves /health and /metrics open, but
 * llama.cpp and LMDeploy guard most routes, and an extra header costs nothing where it is ignored.
 */
import { z } from 'zod';
import { type PlainAnswer, plainRequest } from '../plain-http.ts';
import type { EngineConfig } from './engine-adapter.ts';

export type EngineScrapeErrorCode = 'unreachable' | 'http_status' | 'bad_payload' | 'metric_missing';

/** Why an engine's load (or another engine answer) could not be read. */
export class EngineScrapeError extends Error {
  readonly code: EngineScrapeErrorCode;

  constructor(code: EngineScrapeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineScrapeError';
    this.code = code;
  }
}

/** `base` may end in a slash or carry a path prefix (external engines); both are kept. */
export function engineUrl(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, '') + path;
}

/**
 * Each call on a connection of its own: loopback connections cost next to nothing, and a reused
 * one the engine closes at that moment would fail a health check that the hang verdict rests on.
 */
export async function getEngineText(
  baseUrl: string,
  path: string,
  apiKey: string,
  signal: AbortSignal,
): Promise<string> {
  const url = engineUrl(baseUrl, path);
  let answer: PlainAnswer;
  try {
    answer = await plainRequest(url, {
      headers: { authorization: `Bearer ${apiKey}` },
      signal,
      agent: false,
    });
  } catch (error) {
    throw new EngineScrapeError('unreachable', `GET ${url} failed`, { cause: error });
  }
  if (answer.status < 200 || answer.status >= 300) {
    throw new EngineScrapeError('http_status', `GET ${url} answered ${answer.status}`);
  }
  return answer.text;
}

export async function getEngineJson(
  baseUrl: string,
  path: string,
  apiKey: string,
  signal: AbortSignal,
): Promise<unknown> {
  const text = await getEngineText(baseUrl, path, apiKey, signal);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new EngineScrapeError('bad_payload', `GET ${engineUrl(baseUrl, path)} did not return JSON`, {
      cause: error,
    });
  }
}

const ModelListSchema = z.object({ data: z.array(z.looseObject({ id: z.string() })) });

/** True when the OpenAI model list names `servedModelName`. */
export async function listsServedModel(
  baseUrl: string,
  engine: EngineConfig,
  apiKey: string,
  signal: AbortSignal,
): Promise<boolean> {
  const parsed = ModelListSchema.safeParse(await getEngineJson(baseUrl, '/v1/models', apiKey, signal));
  return parsed.success && parsed.data.data.some((model) => model.id === engine.servedModelName);
}

/**
 * The context length the model list reports for the served model (vLLM, SGLang and the
 * simulator list `max_model_len`); undefined when it does not, or the list cannot be read.
 */
export async function readMaxModelLen(
  baseUrl: string,
  engine: EngineConfig,
  apiKey: string,
  signal: AbortSignal,
): Promise<number | undefined> {
  try {
    const parsed = ModelListSchema.safeParse(await getEngineJson(baseUrl, '/v1/models', apiKey, signal));
    const card = parsed.success ? parsed.data.data.find((m) => m.id === engine.servedModelName) : undefined;
    const length = card?.max_model_len;
    return typeof length === 'number' && Number.isInteger(length) && length > 0 ? length : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The readiness rule shared by the launched engines: `GET /health` answers 2xx (llama.cpp
 * answers 503 while loading the model) and `GET /v1/models` lists the served name. Any failure
 * means "not ready yet"; the supervisor decides how long to wait.
 */
export async function probeHealthAndModel(
  baseUrl: string,
  engine: EngineConfig,
  apiKey: string,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    await getEngineText(baseUrl, '/health', apiKey, signal);
    return await listsServedModel(baseUrl, engine, apiKey, signal);
  } catch {
    return false;
  }
}
