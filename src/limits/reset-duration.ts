/**
 * OpenAI's duration format for `x-ratelimit-reset-*`: `120ms` under a second, else Go's
 * `time.Duration` style — `1s`, `1.5s`, `6m0s`, `1h2m3s` — which is what its clients parse.
 */
export function formatResetDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '0s';
  // Rounded up: a reset reported early would send a client back before there is room.
  const whole = Math.ceil(ms);
  if (whole < 1000) return `${whole}ms`;
  const hours = Math.floor(whole / 3_600_000);
  const minutes = Math.floor((whole % 3_600_000) / 60_000);
  const secondsMs = whole % 60_000;
  const fraction = secondsMs % 1000;
  const seconds =
    `${Math.floor(secondsMs / 1000)}` +
    (fraction ? `.${String(fraction).padStart(3, '0').replace(/0+$/, '')}` : '');
  if (hours) return `${hours}h${minutes}m${seconds}s`;
  if (minutes) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
