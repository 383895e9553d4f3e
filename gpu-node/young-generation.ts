/**
 * `gpu-node start` runs with V8's young generation capped. Under load V8 grows it to scavenge less
 * often (up to 32 MiB a semi-space on Node 22): the built agent supervising four engines went from
 * 73 MiB resident idle to 110–135 MiB after 16 connections of load. Capped at 2 MiB a semi-space
 * it stayed at 87–89 MiB and served more requests/s, not fewer (docs/performance.md). V8 sizes
 * the heap once, when the process starts, so the agent re-executes itself with the flag:
 * `process.execve` keeps the pid, so supervisors and signals see one process. Nodes without it
 * (before 22.15) run as started. A size the owner named (command line or NODE_OPTIONS) is kept.
 */
export const YOUNG_GENERATION_FLAG = '--max-semi-space-size=2';

/** The argv to re-execute with, or null when the process should run as it is. */
export function cappedYoungGenerationArgv(
  execPath: string,
  execArgv: readonly string[],
  nodeOptions: string | undefined,
  argv: readonly string[],
): string[] | null {
  const named = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((arg) =>
    /^--max[-_]semi[-_]space[-_]size\b/.test(arg),
  );
  return named ? null : [execPath, YOUNG_GENERATION_FLAG, ...execArgv, ...argv.slice(1)];
}

/** Replaces this process with itself plus the flag, when Node can and nobody chose a size. */
export function relaunchWithCappedYoungGeneration(): void {
  if (typeof process.execve !== 'function') return;
  const argv = cappedYoungGenerationArgv(
    process.execPath,
    process.execArgv,
    process.env.NODE_OPTIONS,
    process.argv,
  );
  if (argv) process.execve(process.execPath, argv);
}
