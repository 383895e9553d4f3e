/**
 * A lease this request asks for and then holds, returned to its pool exactly once.
 *
 * It also listens for the client going away: when a client disconnects before the response,
 * workerd cancels the request's pending work, so code after an `await` may never run — but
 * the abort event of `request.signal` does. The lease id is chosen here, before `pick` is
 * sent, so a release sent from that event is well defined even while `pick` is in flight:
 * calls on one Durable Object stub arrive in order, so the pool grants the lease, then
 * takes it back.
 */
import type { LeaseOutcome } from '../../objects/model-pool.ts';

export class HeldLease {
  readonly leaseId = crypto.randomUUID();
  private settled = false;
  private readonly returnLease: (leaseId: string, outcome: LeaseOutcome) => void;
  private readonly clientSignal: AbortSignal;
  private readonly onClientGone = () => this.release('aborted');

  constructor(clientSignal: AbortSignal, returnLease: (leaseId: string, outcome: LeaseOutcome) => void) {
    this.returnLease = returnLease;
    this.clientSignal = clientSignal;
    clientSignal.addEventListener('abort', this.onClientGone, { once: true });
  }

  /** Returns the lease; later calls do nothing. */
  release(outcome: LeaseOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.clientSignal.removeEventListener('abort', this.onClientGone);
    this.returnLease(this.leaseId, outcome);
  }

  /** The pool refused: there is nothing to return. */
  refused(): void {
    this.settled = true;
    this.clientSignal.removeEventListener('abort', this.onClientGone);
  }
}
