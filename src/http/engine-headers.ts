/**
 * Which of an engine's response headers reach the client. A node is not trusted with the
 * client's browser or session: cookies, caching and security policy, hop-by-hop and
 * connection headers, and anything unlisted stay behind. What clients use passes: the content
 * headers, the request id, rate-limit and retry hints, OpenAI's own `openai-*` headers.
 */
const ALLOWED = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-disposition',
  'x-request-id',
  'retry-after',
  'retry-after-ms',
]);
const ALLOWED_PREFIXES = ['openai-', 'x-ratelimit-', 'anthropic-'];

export function engineHeaderAllowed(name: string): boolean {
  const lower = name.toLowerCase();
  return ALLOWED.has(lower) || ALLOWED_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

/** A copy of `headers` with only what may reach the client. */
export function clientFacingHeaders(headers: Headers): Headers {
  const kept = new Headers();
  for (const [name, value] of headers) if (engineHeaderAllowed(name)) kept.set(name, value);
  return kept;
}
