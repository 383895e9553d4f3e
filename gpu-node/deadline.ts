/**
 * Bounds a piece of work in time. AbortSignal.timeout() would do it in one call, but its timer
 * stays armed after the work is done, and when it fires it builds a TimeoutError (with a stack)
 * and dispatches it through every signal derived from it: with a probe and a scrape per engine
 * every two seconds and a heartbeat every second, those late firings were a visible share of the
 * agent's CPU. Here the timer and the listener go when the work ends.
 */
export async function withDeadline<T>(
  ms: number,
  signal: AbortSignal | undefined,
  work: (bounded: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')),
    ms,
  );
  const stop = () => controller.abort(signal?.reason);
  if (signal?.aborted) stop();
  else signal?.addEventListener('abort', stop, { once: true });
  try {
    return await work(controller.signal);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', stop);
  }
}
