/**
 * Whether a model name has engines, asked before its pool is: a pool is a Durable Object with
 * its own storage, and a call naming a model nobody serves must not create one (a stream of
 * made-up names would otherwise leave an object behind for each). Names seen served are kept
 * per isolate, so a served model costs nothing here; an unknown name costs one read-only call
 * to the registry. Past `MISSES_PER_SECOND` unknown names a second in one isolate — a burst of
 * first calls to a model just registered, or a flood of made-up names, which only admitted
 * keys within their rate limits can send — the registry is spared and the pool answers itself.
 * A name served once and gone since is refused by its pool, which exists already.
 */
import { registry } from '../../objects/stubs.ts';
import { IsolateCache } from '../isolate-cache.ts';

const MISSES_PER_SECOND = 100;
/** Past this many names (a fleet serves far fewer), the set starts over. */
const MAX_KNOWN = 10_000;

const known = new IsolateCache<string, true>(MAX_KNOWN);
let windowStart = 0;
let missesInWindow = 0;

/** False when no registered node serves `model`; true when one does, or when the pool must say. */
export async function mayBeServed(env: Env, model: string): Promise<boolean> {
  if (known.has(model)) return true;
  const now = Date.now();
  if (now - windowStart >= 1000) {
    windowStart = now;
    missesInWindow = 0;
  }
  if (++missesInWindow > MISSES_PER_SECOND) return true;
  if (!(await registry(env).servesModel(model))) return false;
  known.set(model, true);
  return true;
}
