/**
 * What to reserve against token limits before the engine has said anything: the prompt
 * estimated from the body's size, plus the most the completion may take.
 */

/** Prompt tokens estimated from the request body's size: ceil(bytes / 4) — OpenAI's rule of thumb of ~4 characters per token. */
export function estimatePromptTokens(bodyBytes: number): number {
  if (!Number.isFinite(bodyBytes) || bodyBytes <= 0) return 0;
  return Math.ceil(bodyBytes / 4);
}

/**
 * The tokens to reserve for a request: prompt estimate + the completion cap the body names
 * (max_completion_tokens, else max_tokens, else max_output_tokens) or `defaultCompletionTokens`.
 * `n` (number of choices, default 1) multiplies the completion part. A field that is not a
 * positive whole number is passed over, as if absent: validating it is the route's job.
 */
export function reserveTokens(
  body: { max_tokens?: unknown; max_completion_tokens?: unknown; max_output_tokens?: unknown; n?: unknown },
  bodyBytes: number,
  defaultCompletionTokens: number,
): number {
  const cap =
    positiveInteger(body.max_completion_tokens) ??
    positiveInteger(body.max_tokens) ??
    positiveInteger(body.max_output_tokens) ??
    Math.max(0, Math.ceil(defaultCompletionTokens) || 0);
  const choices = positiveInteger(body.n) ?? 1;
  return Math.min(Number.MAX_SAFE_INTEGER, estimatePromptTokens(bodyBytes) + cap * choices);
}

function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}
