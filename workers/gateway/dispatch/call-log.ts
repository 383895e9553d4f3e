/**
 * One log line per forwarded call, written when the call is over (for a stream: when the
 * relay ends), so it can say how it ended: which engines were tried, the status the client
 * got, and how long it took. JSON, so `wrangler tail` and log pipelines can filter on fields.
 */
import type { LeaseOutcome } from '../../objects/model-pool.ts';

export type CallOutcome = LeaseOutcome | 'refused';

export class CallLog {
  private readonly startedAt = Date.now();
  private readonly engines: string[] = [];
  private written = false;
  private readonly requestId: string;
  private readonly model: string;
  private readonly path: string;

  constructor(requestId: string, model: string, path: string) {
    this.requestId = requestId;
    this.model = model;
    this.path = path;
  }

  attempted(engineKey: string): void {
    this.engines.push(engineKey);
  }

  /** Writes the line; later calls do nothing. */
  finish(status: number, outcome: CallOutcome, code: string | null = null): void {
    if (this.written) return;
    this.written = true;
    console.log(
      JSON.stringify({
        msg: 'forwarded',
        requestId: this.requestId,
        model: this.model,
        path: this.path,
        engine: this.engines.at(-1) ?? null,
        attempts: this.engines.length,
        engines: this.engines,
        status,
        outcome,
        code,
        durationMs: Date.now() - this.startedAt,
      }),
    );
  }
}
