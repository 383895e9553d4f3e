/**
 * Keeps a hold alive while its call lives: a lease on an engine, a reservation on a key. Every
 * `RENEW_EVERY_MS` the holder says so; when the Worker dies the renewals stop, and the pool or
 * the key's object takes the hold back within seconds (src/limits/hold-renewal.ts). A call
 * that ends before the first renewal — most of them — costs one timer set and cleared.
 */
import { RENEW_EVERY_MS } from '../../../src/limits/hold-renewal.ts';

/** Starts renewing; the returned function stops it. */
export function keepRenewing(what: string, renew: () => Promise<unknown>): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(tick, RENEW_EVERY_MS);
  function tick(): void {
    timer = undefined;
    renew()
      .catch((err: unknown) => console.error(`could not renew ${what}; it expires if this persists`, err))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, RENEW_EVERY_MS);
      });
  }
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };
}
