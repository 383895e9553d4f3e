/**
 * One lease, from the moment its id is chosen until it goes back: returned exactly once, renewed
 * while held (renewal.ts).
 *
 * A return may ride along with another call's pick (ride-along.ts), which reaches the pool by
 * another stub, in no set order with this one's calls — so only once the pick has answered and
 * while no renewal is on its way; else the pool could see the return first, and then count the
 * lease again from the late pick or renewal. Those returns go on this call's own stub, in order.
 *
 * It also listens for the client going away: when a client disconnects before the response,
 * workerd cancels the request's pending work, so code after an `await` may never run — but the
 * abort event of `request.signal` does.
 */
import type { CacheReport, LeaseOutcome, LeaseReturn } from '../../objects/model-pool.ts';
import { keepRenewing } from './renewal.ts';

export class HeldLease {
  readonly leaseId = crypto.randomUUID();
  private done = false;
  private stopRenewing: (() => void) | null = null;
  private renewalsOnTheWay = 0;
  private readonly clientSignal: AbortSignal;
  private readonly onClientGone = () => this.release('aborted');
  private readonly pool: {
    /** `inOrder`: send it on this call's stub, after what the call sent; else it may ride along. */
    release: (leaseReturn: LeaseReturn, inOrder: boolean) => void;
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
    this.stopRenewing = keepRenewing(`lease ${this.leaseId}`, async () => {
      this.renewalsOnTheWay++;
      try {
        await this.pool.renew(this.leaseId, engineKey);
      } finally {
        this.renewalsOnTheWay--;
      }
    });
  }

  /**
   * Returns the lease; later calls do nothing. `cache` is what a successful answer said of its
   * prompt's cached share, which teaches the pool's prefix index.
   */
  release(outcome: LeaseOutcome, cache?: CacheReport): void {
    if (this.done) return;
    const inOrder = this.stopRenewing === null || this.renewalsOnTheWay > 0;
    this.finish();
    this.pool.release({ leaseId: this.leaseId, outcome, ...(cache && { cache }) }, inOrder);
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
