/**
 * One key's (or one tenant's) admission state: requests and tokens over a sliding minute,
 * requests in flight, and token quotas per UTC day and month. Exact, pure and serializable —
 * the Durable Object that owns it passes the time in and stores `snapshot()` as plain JSON.
 *
 * Tokens are reserved at admission from an estimate and settled to the real count when the
 * request ends, in the bucket (and quota period) of its admission, so a long stream's tokens
 * never land in a later minute or day than the one that let it in.
 *
 * `now` is expected not to go backwards (a Durable Object's clock does not); if it does, what
 * was admitted "later" still counts, so an earlier clock is never more lenient.
 */
import type { LimitName, Limits } from './limits.ts';

const SECOND_MS = 1000;
const DAY_MS = 86_400_000;
/**
 * A request admitted in second s counts through second s + 60, 61 buckets in all: any two
 * instants less than 60 s apart fall in buckets at most 60 apart, so no exact 60 s window ever
 * holds more than a window of buckets does — the check is never more lenient than exact.
 */
const WINDOW_SECONDS = 61;
/** When a concurrency slot frees is not knowable; this is a polite suggestion, not a promise. */
const CONCURRENCY_RETRY_MS = 1000;
/** Above every limit the schema allows (1e12), so a huge estimate is refused rather than kept. */
const MAX_TOKENS = 1e13;

export interface Reservation {
  id: string;
  /** Counted tokens: the estimate reserved at admission. */
  tokens: number;
  /** When it was admitted: its bucket, day and month. */
  at: number;
  /** When its call last said it is alive (src/limits/hold-renewal.ts); absent: never since `at`. */
  aliveAt?: number;
  /** Whether it holds a concurrency slot — every reservation `admit` makes does. */
  slot: boolean;
}

/** Requests admitted in one second, and their counted tokens (reserved or settled). */
export interface WindowBucket {
  second: number;
  requests: number;
  tokens: number;
}

/** Tokens counted in one quota period: a UTC day (days since the epoch) or month (year × 12 + month). */
export interface QuotaCounter {
  period: number;
  tokens: number;
}

export interface LimiterSnapshot {
  /** Ascending by second; at most a window's worth once pruned. */
  buckets: WindowBucket[];
  /** Open reservations, in admission order. */
  reservations: Reservation[];
  day: QuotaCounter;
  month: QuotaCounter;
}

/** For the x-ratelimit-* headers; the fields of a limit that is not set are null. */
export interface RateLimitStatus {
  limitRequests: number | null;
  remainingRequests: number | null;
  resetRequestsMs: number | null;
  limitTokens: number | null;
  remainingTokens: number | null;
  resetTokensMs: number | null;
}

export type AdmitResult =
  | { ok: true; status: RateLimitStatus }
  | { ok: false; limit: LimitName; retryAfterMs: number; status: RateLimitStatus };

interface Window {
  buckets: WindowBucket[];
  requests: number;
  tokens: number;
}

export class Limiter {
  private buckets: WindowBucket[];
  private readonly reservations: Map<string, Reservation>;
  private slots: number;
  private day: QuotaCounter;
  private month: QuotaCounter;

  constructor(snapshot?: LimiterSnapshot) {
    this.buckets = (snapshot?.buckets ?? []).map((b) => ({ ...b })).sort((a, b) => a.second - b.second);
    this.reservations = new Map((snapshot?.reservations ?? []).map((r) => [r.id, { ...r }]));
    this.slots = 0;
    for (const r of this.reservations.values()) if (r.slot) this.slots++;
    this.day = { ...(snapshot?.day ?? { period: 0, tokens: 0 }) };
    this.month = { ...(snapshot?.month ?? { period: 0, tokens: 0 }) };
  }

  /**
   * Admits one request reserving `tokens` (an estimate) or refuses it; a refusal changes
   * nothing. Checks run in the order concurrency, rpm, tpm, tokensPerDay, tokensPerMonth and
   * the first that fails is reported. An `id` that is already open is admitted again without
   * being counted twice, so a retried call cannot leak a slot.
   *
   * A request whose tokens alone exceed `tpm` (or a quota) can never fit: it is refused with
   * the time until the window is empty (or the period ends) — the caller should tell the client
   * the request is too large rather than let it retry.
   */
  admit(request: { id: string; tokens: number; now: number }, limits: Limits): AdmitResult {
    const { id, now } = request;
    if (this.reservations.has(id)) return { ok: true, status: this.status(limits, now) };
    const tokens = cleanTokens(request.tokens);
    const refusal = this.refusal(tokens, now, limits);
    if (refusal) return { ok: false, ...refusal, status: this.status(limits, now) };

    this.prune(now);
    const bucket = this.bucketAt(secondOf(now));
    bucket.requests += 1;
    bucket.tokens += tokens;
    this.day = addToPeriod(this.day, dayOf(now), tokens);
    this.month = addToPeriod(this.month, monthOf(now), tokens);
    this.reservations.set(id, { id, tokens, at: now, slot: true });
    this.slots++;
    return { ok: true, status: this.status(limits, now) };
  }

  /**
   * The request finished: its reservation becomes `actualTokens` (more or less than reserved),
   * in its own bucket and periods, and its slot is freed. False, and no change, for an unknown
   * or already-settled id.
   */
  settle(id: string, actualTokens: number, now: number): boolean {
    const reservation = this.reservations.get(id);
    if (!reservation) return false;
    this.close(reservation);
    const delta = cleanTokens(actualTokens) - reservation.tokens;
    if (delta !== 0) {
      const bucket = this.buckets.find((b) => b.second === secondOf(reservation.at));
      if (bucket) bucket.tokens = Math.max(0, bucket.tokens + delta);
      // A period that has already ended no longer matters (and its counter has moved on).
      if (this.day.period === dayOf(reservation.at)) this.day.tokens = Math.max(0, this.day.tokens + delta);
      if (this.month.period === monthOf(reservation.at)) {
        this.month.tokens = Math.max(0, this.month.tokens + delta);
      }
    }
    this.prune(now);
    return true;
  }

  /** The call holding reservation `id` is alive; false for an unknown or settled id. */
  renew(id: string, now: number): boolean {
    const reservation = this.reservations.get(id);
    if (!reservation) return false;
    reservation.aliveAt = Math.max(reservation.aliveAt ?? reservation.at, now);
    return true;
  }

  /**
   * Reservations not heard of since `cutoff` (admitted or last renewed then or before) — their
   * Worker died without settling — are settled with their reserved tokens (the request may
   * well have used them) and their slots freed. Returns their ids.
   */
  reapSilentSince(cutoff: number, now: number): string[] {
    const reaped: string[] = [];
    for (const reservation of [...this.reservations.values()]) {
      if ((reservation.aliveAt ?? reservation.at) > cutoff) continue;
      this.close(reservation);
      reaped.push(reservation.id);
    }
    this.prune(now);
    return reaped;
  }

  status(limits: Limits, now: number): RateLimitStatus {
    const window = this.window(now);
    const { rpm, tpm } = limits;
    return {
      limitRequests: rpm ?? null,
      remainingRequests: rpm === undefined ? null : Math.max(0, rpm - window.requests),
      resetRequestsMs: rpm === undefined ? null : untilEmpty(window.buckets, 'requests', now),
      limitTokens: tpm ?? null,
      remainingTokens: tpm === undefined ? null : Math.max(0, tpm - window.tokens),
      resetTokensMs: tpm === undefined ? null : untilEmpty(window.buckets, 'tokens', now),
    };
  }

  /** Concurrency slots in use. */
  inflight(): number {
    return this.slots;
  }

  /** Reservations not yet settled; the same as `inflight()`, as every reservation holds a slot. */
  openReservations(): number {
    return this.reservations.size;
  }

  snapshot(): LimiterSnapshot {
    return {
      buckets: this.buckets.map((b) => ({ ...b })),
      reservations: [...this.reservations.values()].map((r) => ({ ...r })),
      day: { ...this.day },
      month: { ...this.month },
    };
  }

  private refusal(
    tokens: number,
    now: number,
    limits: Limits,
  ): { limit: LimitName; retryAfterMs: number } | undefined {
    if (limits.concurrency !== undefined && this.slots >= limits.concurrency) {
      return { limit: 'concurrency', retryAfterMs: CONCURRENCY_RETRY_MS };
    }
    const window = this.window(now);
    if (limits.rpm !== undefined && window.requests + 1 > limits.rpm) {
      const excess = window.requests + 1 - limits.rpm;
      return { limit: 'rpm', retryAfterMs: wait(untilFreed(window.buckets, 'requests', excess, now)) };
    }
    if (limits.tpm !== undefined && window.tokens + tokens > limits.tpm) {
      const retry =
        tokens > limits.tpm
          ? untilEmpty(window.buckets, 'tokens', now)
          : untilFreed(window.buckets, 'tokens', window.tokens + tokens - limits.tpm, now);
      return { limit: 'tpm', retryAfterMs: wait(retry) };
    }
    const day = dayOf(now);
    if (limits.tokensPerDay !== undefined && countedIn(this.day, day) + tokens > limits.tokensPerDay) {
      return { limit: 'tokensPerDay', retryAfterMs: wait((day + 1) * DAY_MS - now) };
    }
    const month = monthOf(now);
    if (
      limits.tokensPerMonth !== undefined &&
      countedIn(this.month, month) + tokens > limits.tokensPerMonth
    ) {
      return { limit: 'tokensPerMonth', retryAfterMs: wait(monthEnd(month) - now) };
    }
    return undefined;
  }

  /** The buckets that count at `now`, with their totals. */
  private window(now: number): Window {
    const first = secondOf(now) - (WINDOW_SECONDS - 1);
    const buckets = this.buckets.filter((b) => b.second >= first);
    let requests = 0;
    let tokens = 0;
    for (const b of buckets) {
      requests += b.requests;
      tokens += b.tokens;
    }
    return { buckets, requests, tokens };
  }

  /** The bucket of `second`, created in order if needed. */
  private bucketAt(second: number): WindowBucket {
    let i = this.buckets.length;
    while (i > 0 && this.buckets[i - 1]!.second > second) i--;
    const previous = this.buckets[i - 1];
    if (previous?.second === second) return previous;
    const bucket = { second, requests: 0, tokens: 0 };
    this.buckets.splice(i, 0, bucket);
    return bucket;
  }

  /** Drops the buckets that no longer count, which bounds memory whatever the traffic. */
  private prune(now: number): void {
    const first = secondOf(now) - (WINDOW_SECONDS - 1);
    const keep = this.buckets.findIndex((b) => b.second >= first);
    if (keep !== 0) this.buckets = keep === -1 ? [] : this.buckets.slice(keep);
  }

  private close(reservation: Reservation): void {
    this.reservations.delete(reservation.id);
    if (reservation.slot) this.slots--;
  }
}

/** Whole, non-negative, bounded: what the counters can add exactly. */
function cleanTokens(tokens: number): number {
  if (Number.isNaN(tokens) || tokens <= 0) return 0;
  return Math.min(MAX_TOKENS, Math.ceil(tokens));
}

function secondOf(ms: number): number {
  return Math.floor(ms / SECOND_MS);
}

/** When bucket `second` stops counting. */
function expiry(second: number): number {
  return (second + WINDOW_SECONDS) * SECOND_MS;
}

/** Time until, oldest bucket first, enough buckets leave the window to free `needed` of `field`. */
function untilFreed(
  buckets: WindowBucket[],
  field: 'requests' | 'tokens',
  needed: number,
  now: number,
): number {
  let freed = 0;
  for (const b of buckets) {
    freed += b[field];
    if (freed >= needed) return expiry(b.second) - now;
  }
  return untilEmpty(buckets, field, now);
}

/** Time until the last bucket holding any of `field` leaves the window; 0 when none does. */
function untilEmpty(buckets: WindowBucket[], field: 'requests' | 'tokens', now: number): number {
  for (let i = buckets.length - 1; i >= 0; i--) {
    const b = buckets[i]!;
    if (b[field] > 0) return Math.max(0, Math.ceil(expiry(b.second) - now));
  }
  return 0;
}

/** A retry-after: whole milliseconds, at least 1. */
function wait(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

function monthOf(ms: number): number {
  const date = new Date(ms);
  return date.getUTCFullYear() * 12 + date.getUTCMonth();
}

function monthEnd(month: number): number {
  return Date.UTC(Math.floor(month / 12), (month % 12) + 1, 1);
}

/** The tokens a counter holds for `period`: none once a new period has started. */
function countedIn(counter: QuotaCounter, period: number): number {
  // A counter ahead of `period` only happens if the clock went back; it still counts.
  return counter.period >= period ? counter.tokens : 0;
}

function addToPeriod(counter: QuotaCounter, period: number, tokens: number): QuotaCounter {
  if (counter.period >= period) return { period: counter.period, tokens: counter.tokens + tokens };
  return { period, tokens };
}
