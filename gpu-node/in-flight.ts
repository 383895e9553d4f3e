/**
 * What the proxy has in flight, per engine: for a drain (wait until nothing is) and for the hang
 * watch, which asks how long an engine has sent nothing on any of its calls and can end them all.
 */
import type { Gauge } from 'prom-client';

/** One proxied call or WebSocket session. */
export interface Exchange {
  /** `performance.now()` when the engine last sent a byte for it, or when it started. */
  lastProgressAt: number;
  /** Ends it because its engine is hung: a retryable refusal if nothing was answered yet, else a cut. */
  endHung(): void;
}

export class InFlight {
  private readonly byEngine = new Map<string, Set<Exchange>>();
  private count = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly gauge: Gauge<'engine'>;

  constructor(gauge: Gauge<'engine'>) {
    this.gauge = gauge;
  }

  get total(): number {
    return this.count;
  }

  add(engineId: string, exchange: Exchange): void {
    let exchanges = this.byEngine.get(engineId);
    if (!exchanges) this.byEngine.set(engineId, (exchanges = new Set()));
    exchanges.add(exchange);
    this.count += 1;
    this.gauge.inc({ engine: engineId });
  }

  /** Safe to call more than once for one exchange: only the first counts. */
  delete(engineId: string, exchange: Exchange): void {
    if (!this.byEngine.get(engineId)?.delete(exchange)) return;
    this.count -= 1;
    this.gauge.dec({ engine: engineId });
    if (this.count > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves true once nothing is in flight, or false when `timeoutMs` passes first. */
  async waitUntilIdle(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, timeoutMs, false)));
    const result = await Promise.race([idle, timeout]);
    clearTimeout(timer);
    return result;
  }

  /**
   * How long the engine has sent nothing on any of its calls: since the latest progress of any
   * of them, so one call still moving vouches for the engine. Null when nothing is in flight.
   */
  silentForMs(engineId: string, now = performance.now()): number | null {
    const exchanges = this.byEngine.get(engineId);
    if (!exchanges || exchanges.size === 0) return null;
    let latest = -Infinity;
    for (const exchange of exchanges) latest = Math.max(latest, exchange.lastProgressAt);
    return now - latest;
  }

  /** Ends every call in flight to the engine; returns how many. */
  endHung(engineId: string): number {
    const exchanges = [...(this.byEngine.get(engineId) ?? [])];
    for (const exchange of exchanges) exchange.endHung();
    return exchanges.length;
  }
}
