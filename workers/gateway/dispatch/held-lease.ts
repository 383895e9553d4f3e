/**
 * One lease, from the moment its id is chosen until it goes back: returned exactly once, renewed
 * while held (renewal.ts).
 *
 * It also listens for the client going away: when a client disconnects before the response,
 * workerd cancels the request's pending work, so code after an `await` may never run — but the
 * abort event of `request.signal` does.
 */
import type { CacheReport, LeaseOutcome } from '../../objects/model-pool.ts';
import { keepRenewing } from './renewal.ts';

export class HeldLease {
  readonly leaseId = crypto.randomUUID();
  private done = false;
  private stopRenewing: (() => void) | null = null;
  private readonly clientSignal: AbortSignal;
  private readonly onClientGone = () => this.release('aborted');
  private readonly pool: {
    release: (leaseId: string, outcome: LeaseOutcome, cache?: CacheReport) => void;
    renew: (leaseId: string, engineKey: string) => Promise<unknown>;
  };

  constructor(clientSignal: AbortSignal, pool: HeldLease['pool']) {
    this.clientSignal = clientSignal;
    this.pool = pool;
    clientSignal.addEventListener('abort', this.onClientGone, { once: true });
  }

  /** It was given back (or refused) already. */
  get returned(): boolean {
    return this.done;
  }

  /** The pool granted it: renew it until it goes back. */
  granted(engineKey: string): void {
    if (this.done) return;
    this.stopRenewing = keepRenewing(`lease ${this.leaseId}`, () => this.pool.renew(this.leaseId, engineKey));
  }

  /**
   * Returns the lease; later calls do nothing. `cache` is what a successful answer said of its
   * prompt's cached share, which teaches the pool's prefix index.
   */
  release(outcome: LeaseOutcome, cache?: CacheReport): void {
    if (this.done) return;
    this.finish();
    this.pool.release(this.leaseId, outcome, cache);
  }

  /** The pool refused: there is nothing to return. */
  refused(): void {
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.stopRenewing?.();
    this.clientSignal.removeEventListener('abort', this.onClientGone);
  }
}
