/**
 * Whether a model name has engines, asked before its pool is: a pool is a Durable Object with
 * its own storage, and a call naming a model nobody serves must not create one (a stream of
 * made-up names would otherwise leave an object behind for each). Names seen served are kept
 * per isolate, so a served model costs nothing here; an unknown name costs one read-only call
 * to the registry, at most `MISSES_PER_SECOND` a second per isolate — past that, unknown names
 * are refused without asking (a flood of them is not traffic worth the registry's time).
 * A name served once and gone since is refused by its pool, which exists already.
 */
import { registry } from '../../objects/stubs.ts';

const MISSES_PER_SECOND = 50;
/** Past this many names (a fleet serves far fewer), the set starts over. */
const MAX_KNOWN = 10_000;

const known = new Set<string>();
let windowStart = 0;
let missesInWindow = 0;

export async function isServedModel(env: Env, model: string): Promise<boolean> {
  if (known.has(model)) return true;
  const now = Date.now();
  if (now - windowStart >= 1000) {
    windowStart = now;
    missesInWindow = 0;
  }
  if (++missesInWindow > MISSES_PER_SECOND) return false;
  if (!(await registry(env).servesModel(model))) return false;
  if (known.size >= MAX_KNOWN) known.clear();
  known.add(model);
  return true;
}
