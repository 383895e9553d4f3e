/**
 * Keeps `npm start`'s children running and together: on Ctrl-C or SIGTERM they stop newest
 * first (the agent drains through a gateway that is still up); when one dies on its own it is
 * started again after a full-jitter backoff while the rest keep running, and only a crash loop
 * (too many crashes in a minute) stops everything with a non-zero exit; if `npm start` itself
 * fails (short of SIGKILL), none is left behind.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fullJitterDelay, onOrphaned } from '../gpu-node/index.ts';
import { describeExit, killGroup, tailLog, type ManagedChild } from './child-processes.ts';

/** Starts a crashed child again (its log is appended to, not emptied). */
export type Restart = () => Promise<ManagedChild>;

/** This many crashes of one child within CRASH_WINDOW_MS is a crash loop: restarting is pointless. */
const MAX_CRASHES = 5;
const CRASH_WINDOW_MS = 60_000;
const RESTART_BACKOFF = { baseMs: 500, capMs: 10_000 };

export interface Supervisor {
  /**
   * `graceMs`: how long the child may take to stop on SIGTERM before its group is killed.
   * With `restart`, a crash restarts it; without, a crash stops everything.
   */
  supervise(child: ManagedChild, graceMs: number, restart?: Restart): void;
  shutdown(code: number): Promise<never>;
  readonly stopping: boolean;
}

export function createSupervisor(): Supervisor {
  const children: Array<{ child: ManagedChild; graceMs: number }> = [];
  let stopping = false;

  async function shutdown(code: number): Promise<never> {
    if (!stopping) {
      stopping = true;
      for (const { child, graceMs } of [...children].reverse()) {
        if (child.process.exitCode !== null || child.process.signalCode !== null) continue;
        process.stdout.write(`Stopping the ${child.name}… `);
        console.log(`stopped (${describeExit(await child.stop(graceMs))})`);
      }
    }
    process.exit(code);
  }

  let firstSignalAt = 0;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (!stopping) {
        firstSignalAt = Date.now();
        console.log(); // the signal may arrive in the middle of a progress line
        void shutdown(0);
        return;
      }
      // npm may forward the terminal's Ctrl-C that reached us already: only a later one is a second.
      if (Date.now() - firstSignalAt < 1000) return;
      console.log('\nStopping at once.');
      process.exit(130);
    });
  }
  process.on('exit', () => children.forEach(({ child }) => killGroup(child.process, 'SIGKILL')));
  // npm, sent SIGTERM (by `timeout`, a service manager), exits without passing it on: when it
  // is gone, stop as if the signal had reached us.
  onOrphaned(() => {
    if (!stopping) void shutdown(0);
  });

  return {
    get stopping() {
      return stopping;
    },
    shutdown,
    supervise(child, graceMs, restart) {
      const entry = { child, graceMs };
      children.push(entry);
      const crashes: number[] = [];
      const watch = (running: ManagedChild) => {
        // Started while shutting down (a signal came mid-start): stop it too.
        if (stopping) void running.stop(graceMs);
        void running.exited.then(async (exit) => {
          if (stopping) return;
          const log = path.relative(process.cwd(), running.logFile);
          const said = `\nThe ${running.name} exited unexpectedly (${describeExit(exit)}). Last lines of ${log}:\n${tailLog(running.logFile)}\n`;
          const now = Date.now();
          crashes.push(now);
          while (crashes[0]! < now - CRASH_WINDOW_MS) crashes.shift();
          if (!restart || crashes.length >= MAX_CRASHES) {
            console.error(
              restart ? `${said}It crashed ${crashes.length} times in a minute: giving up.\n` : said,
            );
            return void shutdown(1);
          }
          const delayMs = fullJitterDelay(crashes.length - 1, RESTART_BACKOFF);
          console.error(
            `${said}Restarting it in ${(delayMs / 1000).toFixed(1)} s; the rest keeps running.\n`,
          );
          await sleep(delayMs);
          if (stopping) return;
          try {
            entry.child = await restart();
          } catch (error) {
            console.error(`Could not restart the ${running.name}: ${(error as Error).message}`);
            return void shutdown(1);
          }
          console.error(`The ${running.name} is running again.`);
          watch(entry.child);
        });
      };
      watch(child);
    },
  };
}
