/**
 * Keeps one engine alive: launches it in its own process group, reports it ready only once the
 * adapter's probe passes, watches health and load while it runs, restarts it with full-jitter
 * backoff when it dies, and gives up (state `crashloop`) when it keeps dying, instead of
 * burning a GPU on a model that cannot load. `external` engines are only probed and scraped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { EngineLoad, EngineReport, EngineState } from '../src/protocol/node-api.ts';
import { type BackoffPolicy, fullJitterDelay, sleep } from './backoff.ts';
import { withDeadline } from './deadline.ts';
import { EngineLog } from './engine-logs.ts';
import type { EngineAdapter, EngineConfig, LaunchCommand } from './engines/engine-adapter.ts';
import { readMaxModelLen } from './engines/engine-http.ts';
import { engineBaseUrl } from './engines/index.ts';
import { signalGroup, terminateGroup } from './processes/process-group.ts';

export interface SupervisorTimings {
  startupProbeIntervalMs: number;
  /** Loading weights can take many minutes; past this an engine that never answered is restarted. */
  startupTimeoutMs: number;
  probeTimeoutMs: number;
  healthIntervalMs: number;
  unhealthyAfterFailures: number;
  /** A launched engine unhealthy this long is killed and restarted (counts as a crash). */
  unhealthyRestartMs: number;
  backoff: BackoffPolicy;
  /** After this long ready, the next crash backs off from the first step again. */
  healthyResetMs: number;
  crashLoopWindowMs: number;
  /** More crashes than this within the window → `crashloop`. */
  crashLoopMaxCrashes: number;
  stopGraceMs: number;
}

export const DEFAULT_SUPERVISOR_TIMINGS: SupervisorTimings = {
  startupProbeIntervalMs: 1_000,
  startupTimeoutMs: 30 * 60_000,
  probeTimeoutMs: 5_000,
  healthIntervalMs: 2_000,
  unhealthyAfterFailures: 3,
  unhealthyRestartMs: 60_000,
  backoff: { baseMs: 1_000, capMs: 60_000 },
  healthyResetMs: 5 * 60_000,
  crashLoopWindowMs: 10 * 60_000,
  crashLoopMaxCrashes: 5,
  stopGraceMs: 15_000,
};

export interface SupervisorHooks {
  stateChanged?(state: EngineState, previous: EngineState): void;
  restarted?(): void;
  /** A ready (or already unhealthy) engine failed its health check `failures` times in a row. */
  healthFailed?(failures: number): void;
}

export interface SupervisorOptions {
  engine: EngineConfig;
  adapter: EngineAdapter;
  logDir: string;
  logger: Logger;
  timings?: Partial<SupervisorTimings>;
  hooks?: SupervisorHooks;
}

/** One run of the engine process (or, for `external`, the whole time it is watched). */
interface Lifetime {
  /** Aborted when the process exits or the supervisor stops. */
  signal: AbortSignal;
  pid: number | null;
}

export class EngineSupervisor {
  readonly engine: EngineConfig;
  /** The engine's API key: fresh at every agent start, or an external engine's own. */
  readonly apiKey: string;
  readonly baseUrl: string;
  readonly log: EngineLog;
  private readonly adapter: EngineAdapter;
  private readonly timings: SupervisorTimings;
  private readonly logger: Logger;
  private readonly hooks: SupervisorHooks;
  private currentState: EngineState = 'starting';
  private restartCount = 0;
  private currentLoad: EngineLoad | null = null;
  /** The context length the engine's model list reports, read when it becomes ready. */
  private maxModelLen: number | undefined;
  private child: ChildProcess | null = null;
  private childClosed: Promise<void> = Promise.resolve();
  private crashTimes: number[] = [];
  private backoffAttempt = 0;
  private readonly stopController = new AbortController();
  private running: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;

  constructor(options: SupervisorOptions) {
    this.engine = options.engine;
    this.apiKey = options.engine.apiKey ?? randomBytes(24).toString('base64url');
    this.adapter = options.adapter;
    this.timings = { ...DEFAULT_SUPERVISOR_TIMINGS, ...options.timings };
    this.logger = options.logger.child({ engine: options.engine.id });
    this.hooks = options.hooks ?? {};
    this.baseUrl = engineBaseUrl(options.engine);
    this.log = new EngineLog(options.logDir, options.engine.id, { secret: this.apiKey });
  }

  get state(): EngineState {
    return this.currentState;
  }

  get restarts(): number {
    return this.restartCount;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** `logChars` bounds the log lines included, so many chatty engines cannot outgrow a heartbeat. */
  report(logChars?: number): EngineReport {
    return {
      id: this.engine.id,
      kind: this.engine.kind,
      model: this.engine.servedModelName,
      state: this.currentState,
      load: this.currentLoad,
      maxConcurrency: this.engine.maxConcurrency,
      restarts: this.restartCount,
      lastLogLines: this.log.lastLines(logChars),
      routes: this.adapter.routes?.(this.engine)?.slice(),
      ...(this.maxModelLen === undefined ? {} : { maxModelLen: this.maxModelLen }),
    };
  }

  start(): void {
    this.running ??= this.superviseUntilStopped();
  }

  /** Starts a crash-looped engine again with a clean crash history (the owner fixed the cause). */
  revive(): boolean {
    if (this.currentState !== 'crashloop' || this.stopController.signal.aborted) return false;
    this.crashTimes = [];
    this.backoffAttempt = 0;
    this.countRestart();
    this.running = this.superviseUntilStopped();
    return true;
  }

  /** SIGTERM to the engine's group, SIGKILL after the grace period; resolves once it is gone. */
  stop(): Promise<void> {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  private async stopOnce(): Promise<void> {
    this.stopController.abort();
    const pid = this.child?.pid;
    if (pid !== undefined) {
      this.log.note(`stopping (SIGTERM to process group ${pid})`);
      const outcome = await terminateGroup(pid, this.timings.stopGraceMs);
      if (outcome === 'killed')
        this.log.note(`still running after ${this.timings.stopGraceMs} ms: SIGKILL sent`);
    }
    await this.running;
    await Promise.race([this.childClosed, sleep(1_000)]);
    this.setState('stopped');
    await this.log.close();
  }

  /** Last resort when the agent itself is exiting: kill the group now, synchronously. */
  killNow(): void {
    const pid = this.child?.pid;
    if (pid !== undefined) signalGroup(pid, 'SIGKILL');
  }

  private async superviseUntilStopped(): Promise<void> {
    const stop = this.stopController.signal;
    const command = this.adapter.launchCommand(this.engine, this.apiKey);
    if (!command) {
      await this.watch({ signal: stop, pid: null });
      return;
    }
    while (!stop.aborted) {
      const readyForMs = await this.watch(this.launch(command, stop));
      if (stop.aborted) return;
      const now = Date.now();
      if (readyForMs >= this.timings.healthyResetMs) this.backoffAttempt = 0;
      this.crashTimes = [...this.crashTimes.filter((t) => now - t < this.timings.crashLoopWindowMs), now];
      if (this.crashTimes.length > this.timings.crashLoopMaxCrashes) {
        this.log.note(
          `${this.crashTimes.length} crashes within ${this.timings.crashLoopWindowMs} ms: not restarting`,
        );
        this.setState('crashloop');
        return;
      }
      const waitMs = fullJitterDelay(this.backoffAttempt++, this.timings.backoff);
      this.setState('restarting');
      this.log.note(`restarting in ${waitMs} ms`);
      await sleep(waitMs, stop);
      if (stop.aborted) return;
      this.countRestart();
    }
  }

  private launch(command: LaunchCommand, stop: AbortSignal): Lifetime {
    const exit = new AbortController();
    this.currentLoad = null;
    const child = spawn(command.command, command.args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      // The adapter's env holds the engine's own variables, CUDA_VISIBLE_DEVICES and its API key.
      env: { ...process.env, ...command.env },
    });
    this.child = child;
    this.childClosed = new Promise((resolve) => child.once('close', () => resolve()));
    const gone = (description: string) => {
      this.log.note(description);
      this.logger[stop.aborted ? 'info' : 'warn']({ pid: child.pid }, `engine ${description}`);
      // Workers the leader forked would hold GPU memory across the restart; stop() handles its own group.
      if (child.pid !== undefined && !stop.aborted) signalGroup(child.pid, 'SIGKILL');
      if (this.child === child) this.child = null;
      exit.abort();
    };
    child.once('exit', (code, signal) => gone(`process exited (${signal ?? `code ${code}`})`));
    child.once('error', (error) => {
      if (child.pid === undefined) gone(`failed to launch: ${error.message}`);
    });
    if (child.stdout) this.log.follow(child.stdout);
    if (child.stderr) this.log.follow(child.stderr);
    if (child.pid !== undefined) {
      this.log.note(`started pid ${child.pid}: ${[command.command, ...command.args].join(' ')}`);
      this.logger.info({ pid: child.pid }, 'engine process started');
    }
    return { signal: AbortSignal.any([exit.signal, stop]), pid: child.pid ?? null };
  }

  /** Waits for ready, then watches health until the lifetime ends; returns how long it was ready. */
  private async watch(life: Lifetime): Promise<number> {
    this.setState('starting');
    const startedAt = Date.now();
    while (!(await this.probe(life.signal))) {
      if (life.signal.aborted) return 0;
      if (life.pid !== null && Date.now() - startedAt > this.timings.startupTimeoutMs) {
        this.log.note(`not ready after ${this.timings.startupTimeoutMs} ms: killing it`);
        await terminateGroup(life.pid, this.timings.stopGraceMs);
        return 0;
      }
      await sleep(this.timings.startupProbeIntervalMs, life.signal);
    }
    this.maxModelLen = await withDeadline(this.timings.probeTimeoutMs, life.signal, (bounded) =>
      readMaxModelLen(this.baseUrl, this.engine, this.apiKey, bounded),
    );
    this.setState('ready');
    const readySince = Date.now();
    let failures = 0;
    let unhealthySince = 0;
    while (!life.signal.aborted) {
      await sleep(this.timings.healthIntervalMs, life.signal);
      if (life.signal.aborted) break;
      const [healthy] = await Promise.all([this.probe(life.signal), this.scrape(life.signal)]);
      if (life.signal.aborted) break;
      if (healthy) {
        failures = 0;
        this.setState('ready');
        continue;
      }
      failures += 1;
      if (failures >= this.timings.unhealthyAfterFailures && this.currentState === 'ready') {
        this.setState('unhealthy');
        unhealthySince = Date.now();
      }
      this.hooks.healthFailed?.(failures);
      if (this.currentState === 'unhealthy' && life.pid !== null) {
        if (Date.now() - unhealthySince >= this.timings.unhealthyRestartMs) {
          this.log.note(`unhealthy for ${this.timings.unhealthyRestartMs} ms: killing it`);
          await terminateGroup(life.pid, this.timings.stopGraceMs);
        }
      }
    }
    return Date.now() - readySince;
  }

  private async probe(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return false;
    try {
      return await withDeadline(this.timings.probeTimeoutMs, signal, (bounded) =>
        this.adapter.probeReady(this.baseUrl, this.engine, this.apiKey, bounded),
      );
    } catch {
      return false;
    }
  }

  private async scrape(signal: AbortSignal): Promise<void> {
    try {
      this.currentLoad = await withDeadline(this.timings.probeTimeoutMs, signal, (bounded) =>
        this.adapter.scrapeLoad(this.baseUrl, this.apiKey, bounded),
      );
    } catch (error) {
      this.logger.debug({ err: error }, 'load scrape failed');
    }
  }

  private countRestart(): void {
    this.restartCount += 1;
    this.hooks.restarted?.();
  }

  private setState(state: EngineState): void {
    const previous = this.currentState;
    if (state === previous) return;
    this.currentState = state;
    const level = state === 'crashloop' ? 'error' : state === 'unhealthy' ? 'warn' : 'info';
    this.logger[level]({ state, previous }, `engine ${state}`);
    this.hooks.stateChanged?.(state, previous);
  }
}
