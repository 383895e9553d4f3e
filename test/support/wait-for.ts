/**
 * The one way the node and end-to-end tests wait for something to happen: poll a condition
 * instead of sleeping a fixed time and hoping it happened.
 */
import { inspect } from 'node:util';

export interface WaitOptions {
  /** Give up after this long (default 5 s). */
  timeoutMs?: number;
  /** Pause between two checks (default 10 ms). */
  intervalMs?: number;
}

/**
 * Calls `condition` (sync or async) until it returns a truthy value, and returns that value.
 * A condition that throws counts as "not yet" (a server not listening yet, say). After
 * `timeoutMs` it throws an Error naming `what` it waited for, with the last value or error it
 * saw; a condition can throw an Error that says why it is not done to make that message useful.
 */
export async function waitFor<T>(
  what: string,
  condition: () => T | Promise<T>,
  { timeoutMs = 5_000, intervalMs = 10 }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: { value: unknown } | { error: unknown } = { value: undefined };
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) {
      const seen =
        'error' in last
          ? `last error: ${last.error instanceof Error ? last.error.message : inspect(last.error)}`
          : `last value: ${inspect(last.value, { depth: 4, breakLength: Infinity })}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${seen})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
