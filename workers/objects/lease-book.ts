/**
 * The leases a pool holds, in memory, and the sweep that takes back those whose calls stopped
 * renewing them (their Worker died): every `RENEW_EVERY_MS` while any is held, a lease not heard
 * of for `EXPIRE_AFTER_MS` goes to `onSilent`. The pool keeps the per-engine counts; this keeps
 * which lease is where and since when (decision 0008).
 */
import { EXPIRE_AFTER_MS, RENEW_EVERY_MS } from '../../src/limits/hold-renewal.ts';

/** A lease the pool holds: where, since when, and when its call last said it is alive. */
export interface LeaseRecord {
  engineKey: string;
  /** Null for a lease counted again from a renewal after a restart: its duration is unknown. */
  grantedAt: number | null;
  aliveAt: number;
}

export class LeaseBook {
  private readonly records = new Map<string, LeaseRecord>();
  private sweepTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly onSilent: (leaseId: string) => void;

  constructor(onSilent: (leaseId: string) => void) {
    this.onSilent = onSilent;
  }

  /** Holds `leaseId` on `engineKey` from `now`; `grantedAt` null when its start is unknown. */
  hold(leaseId: string, engineKey: string, now: number, grantedAt: number | null): void {
    this.records.set(leaseId, { engineKey, grantedAt, aliveAt: now });
    this.scheduleSweep();
  }

  has(leaseId: string): boolean {
    return this.records.has(leaseId);
  }

  /** Takes the lease out of the book; undefined when it is not held (returned, reaped, never granted). */
  take(leaseId: string): LeaseRecord | undefined {
    const record = this.records.get(leaseId);
    this.records.delete(leaseId);
    return record;
  }

  /** Its call is alive; false when the book does not hold it. */
  renew(leaseId: string, now: number): boolean {
    const record = this.records.get(leaseId);
    if (record) record.aliveAt = now;
    return record !== undefined;
  }

  /** Hands every lease not heard of since the expiry to `onSilent`. */
  sweepSilent(): void {
    const cutoff = Date.now() - EXPIRE_AFTER_MS;
    for (const [leaseId, record] of this.records) if (record.aliveAt <= cutoff) this.onSilent(leaseId);
  }

  private scheduleSweep(): void {
    if (this.sweepTimer !== undefined) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      this.sweepSilent();
      if (this.records.size > 0) this.scheduleSweep();
    }, RENEW_EVERY_MS);
  }
}
