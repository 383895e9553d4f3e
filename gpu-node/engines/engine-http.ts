/**
 * The HTTP calls every adapter makes to its engine on loopback: readiness probes and scrapes.
 * Every call carries the engine's API key: vLLM leaves /health and /metrics open, but
 * llama.cpp and LMDeploy guard most routes, and an extra header costs nothing where it is ignored.
 */
import { z } from 'zod';
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

async function getOk(baseUrl: string, path: string, apiKey: string, signal: AbortSignal): Promise<Response> {
  const url = engineUrl(baseUrl, path);
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${apiKey}` }, signal });
  } catch (error) {
    throw new EngineScrapeError('unreachable', `GET ${url} failed`, { cause: error });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new EngineScrapeError('http_status', `GET ${url} answered ${response.status}`);
  }
  return response;
}

export async function getEngineText(
  baseUrl: string,
  path: string,
  apiKey: string,
  signal: AbortSignal,
): Promise<string> {
  const response = await getOk(baseUrl, path, apiKey, signal);
  return response.text();
}

export async function getEngineJson(
  baseUrl: string,
  path: string,
  apiKey: string,
  signal: AbortSignal,
): Promise<unknown> {
  const response = await getOk(baseUrl, path, apiKey, signal);
  try {
    return await response.json();
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
