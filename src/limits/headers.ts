/**
 * The rate-limit headers OpenAI sends, and that its SDKs read: `x-ratelimit-*` on every answer
 * (so clients can pace themselves) and `retry-after` / `retry-after-ms` on a 429 (the SDKs
 * prefer `retry-after-ms` and wait that long before their automatic retry).
 */
import type { RateLimitStatus } from './limiter.ts';
import { formatResetDuration } from './reset-duration.ts';

/** The x-ratelimit-{limit,remaining,reset}-{requests,tokens} headers for a status; only for limits that are set. */
export function rateLimitHeaders(status: RateLimitStatus): Record<string, string> {
  const headers: Record<string, string> = {};
  const counts = [
    ['limit-requests', status.limitRequests],
    ['remaining-requests', status.remainingRequests],
    ['limit-tokens', status.limitTokens],
    ['remaining-tokens', status.remainingTokens],
  ] as const;
  for (const [name, value] of counts) if (value !== null) headers[`x-ratelimit-${name}`] = String(value);
  if (status.resetRequestsMs !== null) {
    headers['x-ratelimit-reset-requests'] = formatResetDuration(status.resetRequestsMs);
  }
  if (status.resetTokensMs !== null) {
    headers['x-ratelimit-reset-tokens'] = formatResetDuration(status.resetTokensMs);
  }
  return headers;
}

/** retry-after (whole seconds, rounded up, ≥1) and retry-after-ms (whole milliseconds, ≥1). */
export function retryAfterHeaders(retryAfterMs: number): Record<string, string> {
  const ms = Number.isFinite(retryAfterMs) ? Math.max(1, Math.ceil(retryAfterMs)) : 1;
  return { 'retry-after': String(Math.ceil(ms / 1000)), 'retry-after-ms': String(ms) };
}
