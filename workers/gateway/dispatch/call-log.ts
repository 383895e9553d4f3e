/**
 * The end of a forwarded call, reached exactly once on every path (for a stream: when the
 * relay ends). It writes the call's one log line — which engines were tried, the status the
 * client got, how long it took; JSON, so `wrangler tail` and log pipelines can filter on
 * fields — and hands the ending to the caller, which settles the key's reservation.
 */
import type { LeaseOutcome } from '../../objects/model-pool.ts';
import type { Metered } from './usage-meter.ts';

export type CallOutcome = LeaseOutcome | 'refused';

export interface CallEnding {
  status: number;
  outcome: CallOutcome;
  metered: Metered;
  durationMs: number;
}

/** Nothing reached the client: nothing to charge. */
const UNMETERED: Metered = {
  usage: null,
  fallback: { promptTokens: 0, completionTokens: 0, cachedTokens: 0 },
  ttftMs: null,
};

export class CallLog {
  private readonly startedAt = Date.now();
  private readonly engines: string[] = [];
  private written = false;
  private readonly requestId: string;
  private readonly model: string;
  private readonly path: string;

  private readonly onFinish: (ending: CallEnding) => void;

  constructor(requestId: string, model: string, path: string, onFinish: (ending: CallEnding) => void) {
    this.requestId = requestId;
    this.model = model;
    this.path = path;
    this.onFinish = onFinish;
  }

  attempted(engineKey: string): void {
    this.engines.push(engineKey);
  }

  /** Writes the line; later calls do nothing. */
  finish(status: number, outcome: CallOutcome, code: string | null = null, metered = UNMETERED): void {
    if (this.written) return;
    this.written = true;
    const durationMs = Date.now() - this.startedAt;
    this.onFinish({ status, outcome, metered, durationMs });
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
        durationMs,
      }),
    );
  }
}
