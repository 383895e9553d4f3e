/**
 * A circuit breaker per engine, as a state machine over lease outcomes:
 *   closed     leases flow; `failureThreshold` consecutive failures open it;
 *   open       no leases until the cool-down ends, then it is half-open;
 *   half-open  one probe lease at a time: its success closes the breaker, its failure opens it
 *              again for twice the cool-down (up to `maxCoolDownMs`), so a dead engine is
 *              probed less and less often; an aborted probe proves nothing and frees the slot.
 * While open, outcomes of leases granted before it opened change nothing: they say how the
 * engine was, not how it is. Pure: the caller passes the clock.
 */
export interface BreakerSettings {
  failureThreshold: number;
  coolDownMs: number;
  maxCoolDownMs: number;
}

/** Three failures in a row: one request's failover tries three engines, so one bad request opens nothing. */
export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = {
  failureThreshold: 3,
  coolDownMs: 5_000,
  maxCoolDownMs: 60_000,
};

export type BreakerState =
  | { state: 'closed'; failures: number }
  | { state: 'open'; until: number; coolDownMs: number }
  | { state: 'half-open'; probe: string | null; coolDownMs: number };

export type BreakerOutcome = 'ok' | 'failed' | 'aborted';

export const CLOSED: BreakerState = { state: 'closed', failures: 0 };

/** The state as of `now`: an open breaker whose cool-down is over is half-open. */
export function breakerAt(breaker: BreakerState, now: number): BreakerState {
  if (breaker.state === 'open' && now >= breaker.until) {
    return { state: 'half-open', probe: null, coolDownMs: breaker.coolDownMs };
  }
  return breaker;
}

export function allowsLease(breaker: BreakerState, now: number): boolean {
  const current = breakerAt(breaker, now);
  return current.state === 'closed' || (current.state === 'half-open' && current.probe === null);
}

/** After granting `leaseId`: in half-open, that lease is the probe. */
export function onLeaseGranted(breaker: BreakerState, leaseId: string, now: number): BreakerState {
  const current = breakerAt(breaker, now);
  return current.state === 'half-open' ? { ...current, probe: leaseId } : current;
}

export function onLeaseOutcome(
  breaker: BreakerState,
  leaseId: string,
  outcome: BreakerOutcome,
  now: number,
  settings: BreakerSettings = DEFAULT_BREAKER_SETTINGS,
): BreakerState {
  const current = breakerAt(breaker, now);
  if (current.state === 'open') return current;
  if (current.state === 'half-open') {
    if (current.probe !== leaseId) return current;
    if (outcome === 'ok') return CLOSED;
    if (outcome === 'aborted') return { ...current, probe: null };
    const coolDownMs = Math.min(settings.maxCoolDownMs, current.coolDownMs * 2);
    return { state: 'open', until: now + coolDownMs, coolDownMs };
  }
  if (outcome === 'ok') return CLOSED;
  if (outcome === 'aborted') return current;
  const failures = current.failures + 1;
  if (failures < settings.failureThreshold) return { state: 'closed', failures };
  return { state: 'open', until: now + settings.coolDownMs, coolDownMs: settings.coolDownMs };
}

/** When a lease may next be granted, for an honest retry-after; `now` when it may be now. */
export function nextLeaseAt(breaker: BreakerState, now: number): number {
  const current = breakerAt(breaker, now);
  return current.state === 'open' ? current.until : now;
}
