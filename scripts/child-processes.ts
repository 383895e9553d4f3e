/**
 * The long-running children of `npm start` (workerd, the node agent). Each runs in its own
 * process group so a terminal Ctrl-C reaches only `npm start`, which then stops them in order:
 * the agent must drain through a gateway that is still up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedChild {
  name: string;
  logFile: string;
  process: ChildProcess;
  exited: Promise<ChildExit>;
  /** SIGTERM, then SIGKILL to its process group after `graceMs`. Resolves once it has exited. */
  stop(graceMs: number): Promise<ChildExit>;
}

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** stdout and stderr go here (emptied first, unless `appendLog`), so the terminal stays readable. */
  logFile: string;
  /** Keep what the log holds: a restart after a crash should not erase why it crashed. */
  appendLog?: boolean;
  /** Extra descriptors after stdin/stdout/stderr (fd 3 onwards). */
  extraStdio?: Array<'pipe' | 'ignore'>;
}

export function spawnManaged(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions,
): ManagedChild {
  const log = fs.openSync(options.logFile, options.appendLog ? 'a' : 'w');
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['ignore', log, log, ...(options.extraStdio ?? [])],
  });
  fs.closeSync(log);
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  return {
    name,
    logFile: options.logFile,
    process: child,
    exited,
    async stop(graceMs) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
        const exit = await exited;
        clearTimeout(timer);
        return exit;
      }
      return exited;
    },
  };
}

/** Kills a child's whole process group: once a stop's grace is over, or as `npm start` exits. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

export function describeExit(exit: ChildExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code ?? 'unknown'}`;
}

/** The last lines of a log file, for the message that says why something stopped. */
export function tailLog(file: string, lines = 20): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd();
    return text === '' ? '(the log is empty)' : text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
