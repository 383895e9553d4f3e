/**
 * Messages that need not travel alone. A call's settlement (to its key's object) and its lease's
 * return (to its model's pool) are off the request path; sent each in its own RPC they were half
 * of a call's four Durable Object calls. Here they wait, per destination and per isolate, for the
 * next call going there — the next admission for the same key, the next pick from the same pool —
 * which carries them; after `maxWaitMs` without one they go alone, together.
 *
 * Whoever takes a batch owns it: the request that queued first only sleeps, and a carrier whose
 * call failed delivers the batch alone (settling and releasing are idempotent). Only plain data
 * crosses requests here — never a stub, a timer or a promise, which workerd ties to the request
 * that made it.
 */
export class RideAlong<T> {
  private readonly waiting = new Map<string, T[]>();
  private readonly maxWaitMs: number;

  constructor(maxWaitMs: number) {
    this.maxWaitMs = maxWaitMs;
  }

  /**
   * Queues `item` for `destination`. The promise is the caller's to keep alive (`waitUntil`):
   * for the first item of a batch it is the wait and, unless a carrier took the batch, the send.
   */
  wait(destination: string, item: T, sendAlone: (items: T[]) => Promise<void>): Promise<void> {
    const queued = this.waiting.get(destination);
    if (queued) {
      queued.push(item);
      return Promise.resolve();
    }
    const batch = [item];
    this.waiting.set(destination, batch);
    return new Promise<void>((resolve) => setTimeout(resolve, this.maxWaitMs)).then(() => {
      if (this.waiting.get(destination) !== batch) return;
      this.waiting.delete(destination);
      return sendAlone(batch);
    });
  }

  /** What waits for `destination`, now the caller's to deliver; empty when nothing does. */
  take(destination: string): T[] {
    const batch = this.waiting.get(destination);
    if (!batch) return [];
    this.waiting.delete(destination);
    return batch;
  }
}

/**
 * Sees a carrier's call through: kept alive past its client (workerd cancels a request's work
 * when the client leaves, and what it carries must still land), and when it failed — it may not
 * have landed — `carried` goes again alone.
 */
export function deliverCarried<T>(
  ctx: { waitUntil(promise: Promise<unknown>): void },
  call: Promise<unknown>,
  carried: T[],
  sendAlone: (items: T[]) => Promise<void>,
): void {
  if (carried.length === 0) return;
  // An RPC's promise takes a function for both arguments of `then`.
  ctx.waitUntil(
    call.then(
      () => {},
      () => sendAlone(carried),
    ),
  );
}
