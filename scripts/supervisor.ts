/**
 * Keeps `npm start`'s children together: on Ctrl-C or SIGTERM they stop newest first (the agent
 * drains through a gateway that is still up); when one dies on its own, the rest are stopped and
 * `npm start` exits non-zero; if `npm start` itself fails (short of SIGKILL), none is left behind.
 */
import path from 'node:path';
import { onOrphaned } from '../gpu-node/index.ts';
import { describeExit, killGroup, tailLog, type ManagedChild } from './child-processes.ts';

export interface Supervisor {
  /** `graceMs`: how long the child may take to stop on SIGTERM before its group is killed. */
  supervise(child: ManagedChild, graceMs: number): void;
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
    supervise(child, graceMs) {
      children.push({ child, graceMs });
      // Started while shutting down (a signal came mid-start): stop it too.
      if (stopping) void child.stop(graceMs);
      void child.exited.then((exit) => {
        if (stopping) return;
        const log = path.relative(process.cwd(), child.logFile);
        console.error(
          `\nThe ${child.name} exited unexpectedly (${describeExit(exit)}). Last lines of ${log}:\n${tailLog(child.logFile)}\n`,
        );
        void shutdown(1);
      });
    },
  };
}
