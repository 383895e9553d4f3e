/** The per-engine circuit breaker: consecutive failures open it, a cool-down half-opens it, a success closes it. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLOSED,
  DEFAULT_BREAKER_SETTINGS,
  allowsLease,
  breakerAt,
  nextLeaseAt,
  onLeaseGranted,
  onLeaseOutcome,
  type BreakerOutcome,
  type BreakerState,
} from '../../src/routing/circuit-breaker.ts';

const { failureThreshold, coolDownMs, maxCoolDownMs } = DEFAULT_BREAKER_SETTINGS;

function failTimes(n: number, now = 0, breaker: BreakerState = CLOSED): BreakerState {
  for (let i = 0; i < n; i++) breaker = onLeaseOutcome(breaker, `l${i}`, 'failed', now);
  return breaker;
}

describe('circuit breaker', () => {
  it('opens after consecutive failures, not before', () => {
    expect(allowsLease(failTimes(failureThreshold - 1), 0)).toBe(true);
    const open = failTimes(failureThreshold);
    expect(open).toEqual({ state: 'open', until: coolDownMs, coolDownMs });
    expect(allowsLease(open, coolDownMs - 1)).toBe(false);
    expect(nextLeaseAt(open, 0)).toBe(coolDownMs);
  });

  it('counts only consecutive failures: a success in between resets the count', () => {
    let breaker = failTimes(failureThreshold - 1);
    breaker = onLeaseOutcome(breaker, 'ok-1', 'ok', 0);
    expect(failTimes(failureThreshold - 1, 0, breaker)).toMatchObject({ state: 'closed' });
  });

  it('does not count a client abort as a failure', () => {
    let breaker = failTimes(failureThreshold - 1);
    for (let i = 0; i < 10; i++) breaker = onLeaseOutcome(breaker, `a${i}`, 'aborted', 0);
    expect(breaker).toEqual({ state: 'closed', failures: failureThreshold - 1 });
  });

  it('half-opens after the cool-down and lets exactly one probe through', () => {
    const open = failTimes(failureThreshold);
    expect(breakerAt(open, coolDownMs)).toEqual({ state: 'half-open', probe: null, coolDownMs });
    expect(allowsLease(open, coolDownMs)).toBe(true);
    const probing = onLeaseGranted(open, 'probe', coolDownMs);
    expect(allowsLease(probing, coolDownMs + 1)).toBe(false);
  });

  it("closes on the probe's success", () => {
    const probing = onLeaseGranted(failTimes(failureThreshold), 'probe', coolDownMs);
    expect(onLeaseOutcome(probing, 'probe', 'ok', coolDownMs + 5)).toEqual(CLOSED);
  });

  it("opens again on the probe's failure, for twice the cool-down, up to the maximum", () => {
    let breaker = failTimes(failureThreshold);
    let now = 0;
    let expected = coolDownMs;
    for (let round = 0; round < 8; round++) {
      now = nextLeaseAt(breaker, now);
      breaker = onLeaseGranted(breaker, `probe-${round}`, now);
      breaker = onLeaseOutcome(breaker, `probe-${round}`, 'failed', now);
      expected = Math.min(maxCoolDownMs, expected * 2);
      expect(breaker).toEqual({ state: 'open', until: now + expected, coolDownMs: expected });
    }
  });

  it('frees the probe slot when the probe is aborted', () => {
    const probing = onLeaseGranted(failTimes(failureThreshold), 'probe', coolDownMs);
    const after = onLeaseOutcome(probing, 'probe', 'aborted', coolDownMs + 1);
    expect(after).toEqual({ state: 'half-open', probe: null, coolDownMs });
  });

  it('ignores outcomes of leases granted before it opened', () => {
    const open = failTimes(failureThreshold);
    expect(onLeaseOutcome(open, 'old', 'ok', 10)).toEqual(open);
    const probing = onLeaseGranted(open, 'probe', coolDownMs);
    expect(onLeaseOutcome(probing, 'old', 'ok', coolDownMs + 1)).toEqual(probing);
    expect(onLeaseOutcome(probing, 'old', 'failed', coolDownMs + 1)).toEqual(probing);
  });

  it('never grants a lease while open, and never more than one probe at a time, for any history', () => {
    const events = fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('grant' as const), dt: fc.nat({ max: 20_000 }) }),
        fc.record({
          kind: fc.constant('outcome' as const),
          dt: fc.nat({ max: 20_000 }),
          outcome: fc.constantFrom<BreakerOutcome>('ok', 'failed', 'aborted'),
          which: fc.nat(),
        }),
      ),
      { maxLength: 200 },
    );
    fc.assert(
      fc.property(events, (history) => {
        let breaker: BreakerState = CLOSED;
        let now = 0;
        const out: string[] = [];
        for (const [i, event] of history.entries()) {
          now += event.dt;
          if (event.kind === 'grant') {
            if (!allowsLease(breaker, now)) continue;
            const current = breakerAt(breaker, now);
            expect(current.state).not.toBe('open');
            if (current.state === 'half-open') expect(current.probe).toBeNull();
            breaker = onLeaseGranted(breaker, `l${i}`, now);
            out.push(`l${i}`);
          } else if (out.length > 0) {
            const [lease] = out.splice(event.which % out.length, 1);
            breaker = onLeaseOutcome(breaker, lease!, event.outcome, now);
          }
        }
      }),
    );
  });
});
