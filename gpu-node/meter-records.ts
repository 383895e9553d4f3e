/**
 * What each metered stream cost, kept until the gateway collects it (one GET when the stream is
 * over). A collection may arrive before the agent has seen the end — the gateway's side of the
 * connection closes first when the client leaves — so asking for a call still in flight waits
 * for its end. Records nobody collects (a gateway that died mid-call) go after a minute, and the
 * map is bounded, so a gateway that never collects cannot grow the agent's memory.
 */
import type { MeterRecord } from '../src/protocol/node-metering.ts';

const KEEP_MS = 60_000;
const MAX_RECORDS = 10_000;

interface Entry {
  record: MeterRecord | null;
  at: number;
  waiters: Array<(record: MeterRecord | null) => void>;
}

export class MeterRecords {
  private readonly entries = new Map<string, Entry>();

  /** A metered call has started. */
  begin(callId: string): void {
    this.prune();
    this.entries.set(callId, { record: null, at: performance.now(), waiters: [] });
  }

  /** Its end: the first ending counts, later ones (a close after a cut) change nothing. */
  end(callId: string, record: MeterRecord): void {
    const entry = this.entries.get(callId);
    if (!entry || entry.record) return;
    entry.record = record;
    entry.at = performance.now();
    for (const wake of entry.waiters.splice(0)) wake(record);
  }

  /** The record, taken out; waits up to `waitMs` for a call still in flight; null if there is none. */
  async take(callId: string, waitMs: number): Promise<MeterRecord | null> {
    const entry = this.entries.get(callId);
    if (!entry) return null;
    const record =
      entry.record ??
      (await new Promise<MeterRecord | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), waitMs);
        entry.waiters.push((ended) => {
          clearTimeout(timer);
          resolve(ended);
        });
      }));
    if (record) this.entries.delete(callId);
    return record;
  }

  private prune(): void {
    if (this.entries.size < MAX_RECORDS / 2) return;
    const cutoff = performance.now() - KEEP_MS;
    for (const [callId, entry] of this.entries) {
      if (entry.at < cutoff || this.entries.size >= MAX_RECORDS) this.entries.delete(callId);
      else break;
    }
  }
}
