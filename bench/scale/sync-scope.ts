/**
 * Stands in for node:async_hooks in the instrumented bundle when timing matters more than
 * exact attribution (`startInstrumentedGateway(..., { asyncContext: false })`): a scope that
 * holds only for the synchronous part of a call, without the `nodejs_als` flag and without the
 * cost AsyncLocalStorage puts on every promise. A call made after an `await` inside a counted
 * call is then counted too, so call counts are only exact for calls that make none.
 */
export class AsyncLocalStorage<T> {
  private store: T | undefined;

  getStore(): T | undefined {
    return this.store;
  }

  run<R>(store: T, callback: () => R): R {
    const outer = this.store;
    this.store = store;
    try {
      return callback();
    } finally {
      this.store = outer;
    }
  }
}
