/**
 * The leases one call takes from its model's pool, each returned exactly once, on every path.
 *
 * The first pick can start before the key's admission has answered (`prefetch`): the two do
 * not depend on each other, so their round trips overlap; a refused admission returns the
 * lease unused (`abandon`). A key refused lately does not prefetch until its refusal's
 * retry-after has passed, so a client hammering past its limits holds no engine slots; and a
 * prefetched pick refused for want of capacity is asked again after admission, so a lease
 * briefly held by another refused call never turns into a refusal for an admitted one.
 * Every lease is renewed while held (renewal.ts).
 *
 * A tenant may trust only some node owners; admission says which (`restrictTo`). The first
 * pick goes out before that answer, filtered by what this key's last admission in this isolate
 * said; a prefetched lease on an engine the answer does not trust is given back and picked
 * again, so the restriction always holds and costs a second round trip only when it changed.
 *
 * Lease ids are chosen before `pick` is sent (held-lease.ts), and all calls go through one stub,
 * whose calls arrive in order: a release sent while `pick` is in flight arrives after the grant,
 * and takes it back. A lease whose grant is known comes back riding along with the next pick
 * from its pool in this isolate (ride-along.ts), or alone with others a few milliseconds later.
 */
import type { Lease, LeaseReturn, PickRequest, PickResult } from '../../objects/model-pool.ts';
import { callWithRetry, modelPool } from '../../objects/stubs.ts';
import { nodeCredential } from '../gateway-secret.ts';
import { clientClosed } from './forward.ts';
import { HeldLease } from './held-lease.ts';
import { RideAlong, deliverCarried } from './ride-along.ts';
import { mayBeServed } from './served-models.ts';
import { IsolateCache } from '../isolate-cache.ts';

export type PickRouting = Omit<PickRequest, 'leaseId' | 'exclude'>;
/** A lease with what it takes to call its node: the node's credential, derived, never stored. */
export interface NodeLease extends Lease {
  credential: string;
}
export type LeasePick = { ok: true; lease: NodeLease } | Extract<PickResult, { ok: false }>;

/**
 * What each key's last admission in this isolate said, for its next prefetch: the owners it
 * trusts (null: any), and until when a refusal stands (0: admitted).
 */
const keysSeen = new IsolateCache<string, { owners: string[] | null; refusedUntil: number }>(10_000);
/** How long a refusal without a retry-after (a bad key, a model not allowed) stops prefetching. */
const REFUSAL_STANDS_MS = 10_000;
/** Refusals that say nothing of the call: after admission, the pick is worth asking again. */
const CAPACITY_REFUSALS = new Set(['engines_saturated', 'no_available_engine']);
/** Returned leases of each model's pool, waiting for the next pick in this isolate to carry them. */
const leaseReturns = new RideAlong<LeaseReturn>(5);
type Pool = ReturnType<typeof modelPool>;

export class EngineLeases {
  private readonly env: Env;
  private readonly pool: Pool;
  private readonly ctx: { waitUntil(promise: Promise<unknown>): void };
  private readonly model: string;
  private readonly clientSignal: AbortSignal;
  private readonly requestId: string;
  private readonly keyId: string;
  /** The node owners admission trusts with this call; undefined: any (or not yet known). */
  private owners: string[] | undefined;
  private prefetched: { held: HeldLease; picked: Promise<LeasePick>; owners: string[] | undefined } | null =
    null;

  constructor(
    env: Env,
    ctx: { waitUntil(promise: Promise<unknown>): void },
    call: { model: string; keyId: string; clientSignal: AbortSignal; requestId: string },
  ) {
    this.keyId = call.keyId;
    this.env = env;
    this.pool = modelPool(env, call.model);
    this.ctx = ctx;
    this.model = call.model;
    this.clientSignal = call.clientSignal;
    this.requestId = call.requestId;
  }

  /** Sends the first pick now, to run alongside admission — unless this key was refused lately. */
  prefetch(routing: PickRouting): void {
    const seen = keysSeen.get(this.keyId);
    if (seen && Date.now() < seen.refusedUntil) return;
    const owners = seen?.owners ?? undefined;
    const held = this.hold();
    const picked = this.send(held, { ...routing, owners }, []);
    // Awaited by `pick`, or dropped by `abandon`: a failure is never unhandled.
    picked.catch(() => {});
    this.prefetched = { held, picked, owners };
  }

  /** Admission's word on which node owners may serve this call (null: any). */
  restrictTo(owners: string[] | null): void {
    this.owners = owners ?? undefined;
    keysSeen.set(this.keyId, { owners, refusedUntil: 0 });
  }

  /** A lease on an engine not in `exclude`, or the pool's refusal. */
  async pick(routing: PickRouting, exclude: string[]): Promise<{ held: HeldLease; picked: LeasePick }> {
    const prefetched = this.prefetched;
    this.prefetched = null;
    if (prefetched && exclude.length === 0) {
      const picked = await prefetched.picked;
      const current = picked.ok
        ? sameOwners(prefetched.owners, this.owners) || this.trusts(picked.lease.owner)
        : sameOwners(prefetched.owners, this.owners) && !CAPACITY_REFUSALS.has(picked.reason);
      if (current) return { held: prefetched.held, picked };
    }
    prefetched?.held.release('aborted');
    const held = this.hold();
    return { held, picked: await this.send(held, { ...routing, owners: this.owners }, exclude) };
  }

  /**
   * The call will not be forwarded (admission refused it, for `retryAfterMs` when it said):
   * a prefetched lease goes back unused, and the key's next calls here stop prefetching.
   */
  abandon(retryAfterMs?: number): void {
    this.prefetched?.held.release('aborted');
    this.prefetched = null;
    const owners = keysSeen.get(this.keyId)?.owners ?? null;
    keysSeen.set(this.keyId, { owners, refusedUntil: Date.now() + (retryAfterMs ?? REFUSAL_STANDS_MS) });
  }

  private trusts(owner: string): boolean {
    return this.owners === undefined || this.owners.includes(owner);
  }

  private hold(): HeldLease {
    return new HeldLease(this.clientSignal, {
      release: (leaseReturn, inOrder) =>
        this.ctx.waitUntil(
          inOrder
            ? this.returnLeases([leaseReturn], this.pool)
            : leaseReturns.wait(this.model, leaseReturn, (batch) => this.returnLeases(batch, this.pool)),
        ),
      renew: (leaseId, engineKey) => this.pool.renewLeases([{ leaseId, engineKey }]),
    });
  }

  private async send(held: HeldLease, routing: PickRouting, exclude: string[]): Promise<LeasePick> {
    const served = await mayBeServed(this.env, this.model).catch((err: unknown) => {
      held.refused();
      throw err;
    });
    if (!served) {
      held.refused();
      return { ok: false, reason: 'unknown_model', retryAfterSeconds: 0 };
    }
    // Given back while the registry was asked (the client left, admission refused): a pick sent
    // now would arrive after that release and hold an engine slot for nobody.
    if (held.returned) throw clientClosed();
    const releases = leaseReturns.take(this.model);
    const answer = this.pool.pick({ ...routing, leaseId: held.leaseId, exclude, releases });
    deliverCarried(this.ctx, answer, releases, (batch) => this.returnLeases(batch, this.pool));
    try {
      const picked = await answer;
      if (!picked.ok) {
        held.refused();
        return picked;
      }
      held.granted(picked.lease.engineKey);
      return {
        ok: true,
        lease: { ...picked.lease, credential: await nodeCredential(this.env, picked.lease.nodeId) },
      };
    } catch (err) {
      // The pick may have landed: a release of a lease the pool never granted changes nothing.
      held.release('aborted');
      throw err;
    }
  }

  /**
   * Returning is idempotent, so the retry after a call that did land changes nothing. A lease
   * that still cannot be returned stops being renewed and expires in the pool. `pool`: a stub
   * made by the request sending, as workerd requires.
   */
  private async returnLeases(returns: LeaseReturn[], pool: Pool): Promise<void> {
    try {
      await callWithRetry(() => pool.releaseLeases(returns));
    } catch (err) {
      const ids = returns.map((r) => r.leaseId).join(', ');
      console.error(`[${this.requestId}] could not return leases ${ids} to the pool of ${this.model}`, err);
    }
  }
}

function sameOwners(a: string[] | undefined, b: string[] | undefined): boolean {
  return (
    a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((o, i) => o === b[i]))
  );
}
