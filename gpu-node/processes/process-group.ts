/**
 * Engines run in their own process group (`detached`), because they fork workers (vLLM's
 * tensor-parallel ranks, tokenizer pools) that would outlive a kill aimed only at the leader
 * and keep holding GPU memory. Every signal here goes to the whole group.
 */
import { sleep } from '../backoff.ts';

/** Sends `signal` to every process in the group led by `pid`; false when the group is gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

export function groupAlive(pid: number): boolean {
  return signalGroup(pid, 0);
}

/** Polls until no process is left in the group, or `timeoutMs` passes; true when it emptied. */
export async function waitForGroupExit(pid: number, timeoutMs: number, pollMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

/**
 * SIGTERM to the group, up to `graceMs` for it to go, then SIGKILL. Resolves once the group is
 * empty (or, after SIGKILL, once the kernel has had a moment to reap it).
 */
export async function terminateGroup(pid: number, graceMs: number): Promise<'exited' | 'killed'> {
  if (!signalGroup(pid, 'SIGTERM')) return 'exited';
  if (await waitForGroupExit(pid, graceMs)) return 'exited';
  signalGroup(pid, 'SIGKILL');
  await waitForGroupExit(pid, 5_000);
  return 'killed';
}
