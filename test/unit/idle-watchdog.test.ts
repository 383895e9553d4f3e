/** The relay's idle timeout: only time spent waiting for the engine counts. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleWatchdog } from '../../src/sse/idle-watchdog.ts';

describe('IdleWatchdog', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('fires once a read has been pending for the whole timeout', () => {
    const onIdle = vi.fn();
    const watchdog = new IdleWatchdog(1000, onIdle);
    watchdog.waiting();
    vi.advanceTimersByTime(999);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onIdle).toHaveBeenCalledOnce();
  });

  it('counts from the latest read, not from the first', () => {
    const onIdle = vi.fn();
    const watchdog = new IdleWatchdog(1000, onIdle);
    for (let i = 0; i < 10; i++) {
      watchdog.waiting();
      vi.advanceTimersByTime(600);
      watchdog.received();
    }
    expect(onIdle).not.toHaveBeenCalled();
    watchdog.waiting();
    vi.advanceTimersByTime(1000);
    expect(onIdle).toHaveBeenCalledOnce();
  });

  it('never fires while nothing is pending: a slow client is not an idle engine', () => {
    const onIdle = vi.fn();
    const watchdog = new IdleWatchdog(1000, onIdle);
    watchdog.waiting();
    watchdog.received();
    vi.advanceTimersByTime(60_000);
    expect(onIdle).not.toHaveBeenCalled();
  });

  it('never fires once stopped', () => {
    const onIdle = vi.fn();
    const watchdog = new IdleWatchdog(1000, onIdle);
    watchdog.waiting();
    watchdog.stop();
    vi.advanceTimersByTime(5000);
    expect(onIdle).not.toHaveBeenCalled();
  });
});
