/**
 * Notices when this process has lost its parent. A child whose parent died without stopping
 * it (SIGKILL, or `npm` killed without passing the signal on) is re-parented; polling
 * `process.ppid` is the portable way to see that from Node.
 */
export function onOrphaned(callback: () => void, everyMs = 500): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    callback();
  }, everyMs);
  timer.unref();
}
