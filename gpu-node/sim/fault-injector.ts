/**
 * The failures a router must survive, on demand: a share of requests answered 500 (`--fail-rate`,
 * drawn from a generator seeded by `--seed`, so a run repeats exactly), an engine that hangs
 * (`--stall-after`: nothing progresses, /health included), one whose health check fails while it
 * goes on generating (`--health-fail-after`, as a busy SGLang's generating health check can time
 * out) and one that dies (`--crash-after`: it exits the whole process, so run it as a child
 * process, never inside a test runner).
 */
import type { SimOptions } from './options.ts';
import type { SimEngine } from './sim-engine.ts';
import { seededRandom } from './text-model.ts';

export type InferenceVerdict = 'serve' | 'fail' | 'stall';

export class FaultInjector {
  readonly #options: SimOptions;
  readonly #engine: SimEngine;
  readonly #random: () => number;
  #received = 0;
  #completed = 0;

  constructor(options: SimOptions, engine: SimEngine) {
    this.#options = options;
    this.#engine = engine;
    this.#random = seededRandom(options.seed);
  }

  /** Decides the fate of an inference request as it arrives. */
  judgeArrival(): InferenceVerdict {
    this.#received++;
    const { stallAfter, failRate } = this.#options;
    if (stallAfter !== undefined && this.#received > stallAfter) {
      this.#engine.stall();
      return 'stall';
    }
    // Draw even at rate 0 so that changing the rate keeps every other request's draw in place.
    return this.#random() < failRate ? 'fail' : 'serve';
  }

  /** What `/health` says: fine until more than `--health-fail-after` requests have arrived. */
  healthy(): boolean {
    const { healthFailAfter } = this.#options;
    return healthFailAfter === undefined || this.#received <= healthFailAfter;
  }

  /** Counts a completed inference request; the one that reaches `--crash-after` ends the process. */
  recordCompleted(): void {
    this.#completed++;
    const { crashAfter } = this.#options;
    if (crashAfter !== undefined && this.#completed >= crashAfter) {
      process.stderr.write(
        `switchyard-sim: crashing on purpose after ${this.#completed} requests (--crash-after)\n`,
      );
      process.exit(1);
    }
  }
}
