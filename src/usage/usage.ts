/**
 * Token usage as the engines report it, in one shape. OpenAI's `prompt_tokens` already include
 * the cached ones; Anthropic's `input_tokens` do not (cache reads and cache writes are counted
 * apart), so for Anthropic the prompt is the sum of the three — the same meaning everywhere.
 */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** The part of `promptTokens` served from the prefix cache. */
  cachedTokens: number;
}

/** A field's count: 0 when absent (null or undefined), `false` when present but unusable. */
function count(value: unknown): number | false {
  if (value === undefined || value === null) return 0;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : false;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function details(value: unknown, field: string): number | false {
  if (value === undefined || value === null) return 0;
  return isRecord(value) ? count(value[field]) : false;
}

/**
 * Normalizes a `usage` object from any engine answer: OpenAI chat/completions/embeddings
 * (prompt_tokens, completion_tokens, prompt_tokens_details.cached_tokens), the Responses API
 * (input_tokens, output_tokens, input_tokens_details.cached_tokens), Anthropic Messages
 * (input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens). Null
 * when it is not a usable usage object: the prompt count missing, or any count negative,
 * non-finite or not a number. Completion counts may be absent (embeddings have none) and are 0.
 */
export function normalizeUsage(raw: unknown): Usage | null {
  if (!isRecord(raw)) return null;
  if (raw.prompt_tokens !== undefined && raw.prompt_tokens !== null) {
    return usage(
      count(raw.prompt_tokens),
      count(raw.completion_tokens),
      details(raw.prompt_tokens_details, 'cached_tokens'),
    );
  }
  if (raw.input_tokens === undefined || raw.input_tokens === null) return null;
  const input = count(raw.input_tokens);
  const output = count(raw.output_tokens);
  if ('cache_read_input_tokens' in raw || 'cache_creation_input_tokens' in raw) {
    const read = count(raw.cache_read_input_tokens);
    const created = count(raw.cache_creation_input_tokens);
    if (input === false || read === false || created === false) return null;
    return usage(input + read + created, output, read);
  }
  return usage(input, output, details(raw.input_tokens_details, 'cached_tokens'));
}

function usage(prompt: number | false, completion: number | false, cached: number | false): Usage | null {
  if (prompt === false || completion === false || cached === false) return null;
  return { promptTokens: prompt, completionTokens: completion, cachedTokens: cached };
}

/** Finds `usage` in a whole JSON response body (bytes); null when absent or not JSON. Never throws. */
export function usageFromJsonBody(bytes: Uint8Array): Usage | null {
  try {
    const body: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return isRecord(body) ? normalizeUsage(body.usage) : null;
  } catch {
    return null;
  }
}

export function totalTokens(usage: Usage): number {
  return usage.promptTokens + usage.completionTokens;
}
