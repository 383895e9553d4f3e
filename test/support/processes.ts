/** Process checks for waitFor, built on gpu-node's /proc reading (zombies count as gone). */
import { isAlive } from '../../gpu-node/index.ts';

/** True once none of `pids` is alive; otherwise throws naming the live ones, so waitFor can say. */
export function noneAlive(pids: number[]): true {
  const alive = pids.filter(isAlive);
  if (alive.length > 0) throw new Error(`still alive: ${alive.join(', ')}`);
  return true;
}
