/**
 * What every benchmark here needs around its measurements: a temporary folder for logs and
 * state, the processes it starts (stopped newest first on success, failure or Ctrl-C, and
 * killed by pid if one outlives that), progress lines on stderr, and a watchdog so a hang ends
 * the run instead of the machine's afternoon. Used by bench/overhead and bench/scale.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { descendantsOf, isAlive } from '../../gpu-node/index.ts';
import { spawnManaged, tailLog, type ManagedChild } from '../../scripts/child-processes.ts';

export const root = path.resolve(import.meta.dirname, '../..');

export class Harness {
  readonly name: string;
  readonly dir: string;
  readonly started = performance.now();
  /** The machine's 1-minute load average when the run started: other users' work shows here. */
  readonly loadAtStart = os.loadavg()[0]!;
  private readonly children: Array<{ child: ManagedChild; graceMs: number }> = [];
  /** Folders made outside `dir` (on tmpfs, say), removed with it. */
  private readonly extraDirs: string[] = [];
  /** Every process seen below this one: an engine outlives an agent that dies, and is then no descendant. */
  private readonly seenPids = new Set<number>();

  constructor(name: string) {
    this.name = name;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`));
  }

  progress(line: string): void {
    const seconds = ((performance.now() - this.started) / 1000).toFixed(0).padStart(4);
    console.error(`[${this.name} ${seconds} s] ${line}`);
  }

  /** A child process whose stdout and stderr go to `<dir>/<name>.log`. */
  spawn(
    name: string,
    command: string,
    args: string[],
    options: { env?: NodeJS.ProcessEnv; graceMs?: number; extraStdio?: Array<'pipe' | 'ignore'> } = {},
  ): ManagedChild {
    const child = spawnManaged(name, command, args, {
      cwd: root,
      env: options.env ?? process.env,
      logFile: this.logFile(name),
      extraStdio: options.extraStdio,
    });
    this.adopt(child, options.graceMs ?? 3000);
    return child;
  }

  /** A new folder under `parent`, removed when the run's folder is. */
  folderIn(parent: string, name: string): string {
    const dir = fs.mkdtempSync(path.join(parent, `bench-${this.name}-${name}-`));
    this.extraDirs.push(dir);
    return dir;
  }

  logFile(name: string): string {
    return path.join(this.dir, `${name.replace(/[^\w.-]+/g, '-')}.log`);
  }

  /** A child started elsewhere (workerd from scripts/) that this run must stop. */
  adopt(child: ManagedChild, graceMs: number): void {
    this.children.push({ child, graceMs });
    this.rememberPids();
  }

  /** Stops one child now (SIGTERM, SIGKILL to its group after its grace). */
  async stop(child: ManagedChild): Promise<void> {
    const index = this.children.findIndex((entry) => entry.child === child);
    if (index < 0) return;
    const [entry] = this.children.splice(index, 1);
    await entry!.child.stop(entry!.graceMs);
  }

  /** Newest first, so agents drain through gateways that are still up. */
  async stopAll(): Promise<void> {
    this.rememberPids();
    for (const { child, graceMs } of this.children.reverse()) await child.stop(graceMs);
    this.children.length = 0;
  }

  rememberPids(): void {
    for (const pid of descendantsOf(process.pid)) this.seenPids.add(pid);
  }

  leftovers(): number[] {
    this.rememberPids();
    return [...this.seenPids].filter(isAlive);
  }

  /** Last resort on exit: only processes this run started (and their children), by pid. */
  killLeftovers(): void {
    for (const pid of this.leftovers()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  /**
   * Runs `main`, then stops everything. The folder (logs, profiles) is removed after a clean
   * run unless `keep` says otherwise, and kept, with its path printed, after a failure.
   */
  async run(main: () => Promise<void>, options: { watchdogMs: number; keep?: boolean }): Promise<void> {
    let keepDir = true;
    process.on('exit', () => {
      this.killLeftovers();
      if (keepDir) console.error(`[${this.name}] files kept in ${[this.dir, ...this.extraDirs].join(', ')}`);
      else for (const dir of [this.dir, ...this.extraDirs]) fs.rmSync(dir, { recursive: true, force: true });
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => void this.stopAll().finally(() => process.exit(130)));
    }
    const watchdog = setTimeout(() => {
      console.error(`[${this.name}] gave up after ${(options.watchdogMs / 1000).toFixed(0)} s`);
      process.exit(1);
    }, options.watchdogMs);
    try {
      await main();
      clearTimeout(watchdog);
      await this.stopAll();
      // A process that was just killed may take a moment to be reaped.
      for (let i = 0; i < 20 && this.leftovers().length > 0; i++) await sleep(100);
      const left = this.leftovers();
      if (left.length > 0) throw new Error(`processes left behind: ${left.map(describePid).join(', ')}`);
      keepDir = options.keep === true;
      process.exit(0);
    } catch (error) {
      console.error(`[${this.name}] failed:`, error);
      await this.stopAll().catch(() => {});
      process.exit(1);
    }
  }
}

function describePid(pid: number): string {
  try {
    return `${pid} (${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().slice(0, 120)})`;
  } catch {
    return String(pid);
  }
}

/** Polls `url` until it answers 2xx; fails early if `child` exits. */
export async function waitForHttp(url: string, child: ManagedChild, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.process.exitCode === null) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${child.name} did not answer ${url} within ${timeoutMs} ms:\n${tailLog(child.logFile)}`);
}

/** Resident memory of one process (not its children), in MiB. */
export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** The 1-minute load average at the start and now: on 2 cores, anything past ~2 is someone else's work too. */
export function describeLoad(h: Harness): string {
  return `load average ${h.loadAtStart.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end`;
}

export function describeMachine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.versions.node}`;
}
