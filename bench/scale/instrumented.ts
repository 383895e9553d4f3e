/**
 * Runs inside workerd, in a bench-only bundle (bench/scale/instrumented-gateway.ts writes the
 * entry and bundles it; the production bundle never contains this file). It wraps the
 * gateway's own Durable Object classes, unchanged, to:
 *
 * - count every call an object receives from outside — an RPC from the Worker or from another
 *   object, or an alarm — by class and method. Calls an object makes on itself are not counted:
 *   a call counts only when no counted call is already running in its async context
 *   (AsyncLocalStorage, which does not cross an RPC boundary);
 * - count the SQLite rows each counted call reads and writes (the cursor's own rowsRead and
 *   rowsWritten), and its `setAlarm` calls, which Cloudflare bills as one row written each;
 * - add bench-only methods (loops of `pick` or `admitRequest` run inside the object, to time the
 *   object's own work without the RPC around it) and `/__bench/*` routes that drive them.
 *
 * Every other request goes to the gateway's own app.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { sha256Hex } from '../../src/credentials.ts';

interface SqlCursor {
  readonly rowsRead: number;
  readonly rowsWritten: number;
  toArray(): Array<Record<string, unknown>>;
}
interface ObjectState {
  storage: {
    sql: { exec(query: string, ...bindings: unknown[]): SqlCursor; readonly databaseSize?: number };
    setAlarm(scheduledTime: number | Date, options?: unknown): Promise<void>;
  };
}
type ObjectClass = new (ctx: ObjectState, env: unknown) => object;
type Stub = Record<string, (...args: unknown[]) => Promise<unknown>>;
interface Namespace {
  idFromName(name: string): unknown;
  get(id: unknown): Stub;
}
interface BenchEnv {
  MODEL_POOL: Namespace;
  API_KEY: Namespace;
}
interface App {
  fetch(request: Request, env: unknown, ctx: unknown): Response | Promise<Response>;
}

export interface Counters {
  calls: Record<string, number>;
  rows: Record<string, { read: number; written: number; alarms: number }>;
}

const scope = new AsyncLocalStorage<string>();
const calls = new Map<string, number>();
const rows = new Map<string, { read: number; written: number; alarms: number }>();
/** Cursors whose counts are read once they have been consumed: at the next statement, or when asked. */
let openCursors: Array<[string, SqlCursor]> = [];

function rowsOf(label: string) {
  let entry = rows.get(label);
  if (!entry) rows.set(label, (entry = { read: 0, written: 0, alarms: 0 }));
  return entry;
}

function closeCursors(): void {
  for (const [label, cursor] of openCursors) {
    const entry = rowsOf(label);
    entry.read += cursor.rowsRead;
    entry.written += cursor.rowsWritten;
  }
  openCursors = [];
}

function readCounters(reset: boolean): Counters {
  closeCursors();
  const counters = { calls: Object.fromEntries(calls), rows: Object.fromEntries(rows) };
  if (reset) {
    calls.clear();
    rows.clear();
  }
  return counters;
}

function countCalls(base: ObjectClass, className: string): void {
  const prototype = base.prototype as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(prototype)) {
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name)!;
    if (name === 'constructor' || typeof descriptor.value !== 'function') continue;
    const original = descriptor.value as (...args: unknown[]) => unknown;
    const label = `${className}.${name}`;
    Object.defineProperty(prototype, name, {
      ...descriptor,
      value: function counted(this: unknown, ...args: unknown[]) {
        if (scope.getStore() !== undefined) return original.apply(this, args);
        calls.set(label, (calls.get(label) ?? 0) + 1);
        return scope.run(label, () => original.apply(this, args));
      },
    });
  }
}

function countStorage(ctx: ObjectState, className: string): void {
  const { storage } = ctx;
  const sql = storage.sql;
  const exec = sql.exec.bind(sql);
  sql.exec = (query: string, ...bindings: unknown[]) => {
    closeCursors();
    const cursor = exec(query, ...bindings);
    openCursors.push([scope.getStore() ?? `${className}.(constructor)`, cursor]);
    return cursor;
  };
  const setAlarm = storage.setAlarm.bind(storage);
  storage.setAlarm = (scheduledTime, options) => {
    rowsOf(scope.getStore() ?? `${className}.(constructor)`).alarms++;
    return setAlarm(scheduledTime, options);
  };
}

/** The gateway's class, counted, with the bench methods for its kind. Exported under the same name. */
export function instrument<T extends ObjectClass>(base: T, className: string): T {
  countCalls(base, className);
  const Instrumented = class extends (base as ObjectClass) {
    constructor(ctx: ObjectState, env: unknown) {
      countStorage(ctx, className);
      super(ctx, env);
    }
  };
  for (const [name, method] of Object.entries(BENCH_METHODS[className] ?? {})) {
    Object.defineProperty(Instrumented.prototype, name, {
      configurable: true,
      writable: true,
      // Inside the bench scope, so the object's own calls go uncounted (and unwrapped).
      value: function bench(this: unknown, ...args: unknown[]) {
        return scope.run('bench', () => (method as (...values: unknown[]) => unknown).apply(this, args));
      },
    });
  }
  return Instrumented as unknown as T;
}

// ── Bench methods, run inside the objects ────────────────────────────────────────────────

export interface PickLoop {
  n: number;
  /** Session i of the loop is `offset + i` when `unique`, else `(offset + i) % sessions`. */
  sessions: number;
  offset: number;
  unique: boolean;
}

interface PoolLike {
  pick(request: {
    leaseId: string;
    affinityKey?: string;
    prefixHashes?: number[];
  }): Promise<{ ok: boolean; reason?: string }>;
  release(
    leaseId: string,
    outcome: 'ok',
    cache?: { promptTokens: number; cachedTokens: number },
  ): boolean | Promise<boolean>;
}

interface KeyLike {
  admitRequest(input: {
    secretHash: string;
    model: string;
    reservationId: string;
    tokens: number;
    capped: boolean;
  }): Promise<{ ok: boolean; reason?: string }>;
  settleRequests(settlements: ReturnType<typeof settlementOf>[]): Promise<number>;
  benchHeld?: string[];
}

let leaseSeq = 0;

/** A chat request's routing input: one of 10 shared system prompts (4 blocks), then 4 blocks of its own. */
function routingOf(session: number): { affinityKey: string; prefixHashes: number[] } {
  const system = session % 10;
  const prefixHashes = [1, 2, 3, 4].map((block) => system * 100 + block);
  for (let block = 0; block < 4; block++) prefixHashes.push(1_000_000 + session * 8 + block);
  return { affinityKey: `bench:session-${session}`, prefixHashes };
}

export function pickRequest(i: number, loop: Pick<PickLoop, 'sessions' | 'offset' | 'unique'>) {
  const session = loop.unique ? loop.offset + i : (loop.offset + i) % loop.sessions;
  return { leaseId: `bench-${leaseSeq++}`, ...routingOf(session) };
}

/** What the engine reported of an answered request: half its prompt was cached. */
const CACHE = { promptTokens: 512, cachedTokens: 256 };

function settlementOf(reservationId: string, model: string) {
  const usage = { promptTokens: 50, completionTokens: 16, cachedTokens: 0 };
  return {
    reservationId,
    model,
    status: 200,
    aborted: false,
    usage,
    fallback: usage,
    ttftMs: 1,
    durationMs: 2,
  };
}

const BENCH_METHODS: Record<string, Record<string, (this: never, ...args: never[]) => unknown>> = {
  ModelPool: {
    /** The object's SQLite size and its session count (the pool's own table). */
    benchStorage(this: { ctx: ObjectState }) {
      const sql = this.ctx.storage.sql;
      const sessions = Number(sql.exec('SELECT COUNT(*) AS n FROM sessions').toArray()[0]?.n ?? NaN);
      return { bytes: sql.databaseSize ?? NaN, sessions };
    },
    async benchPicks(this: PoolLike, loop: PickLoop): Promise<number> {
      for (let i = 0; i < loop.n; i++) {
        const request = pickRequest(i, loop);
        const picked = await this.pick(request);
        if (!picked.ok) throw new Error(`pick refused: ${picked.reason}`);
        await this.release(request.leaseId, 'ok', CACHE);
      }
      return loop.n;
    },
  },
  ApiKey: {
    async benchAdmits(this: KeyLike, loop: { n: number; secretHash: string; model: string }) {
      for (let i = 0; i < loop.n; i++) {
        const reservationId = `bench-${leaseSeq++}`;
        const admitted = await this.admitRequest({ ...loop, reservationId, tokens: 66, capped: true });
        if (!admitted.ok) throw new Error(`admission refused: ${admitted.reason}`);
        await this.settleRequests([settlementOf(reservationId, loop.model)]);
      }
      return loop.n;
    },
    /** Admits `n` requests and leaves them open, as a key with `n` requests in flight has them. */
    async benchHold(this: KeyLike, loop: { n: number; secretHash: string; model: string }) {
      this.benchHeld ??= [];
      for (let i = 0; i < loop.n; i++) {
        const reservationId = `held-${leaseSeq++}`;
        const admitted = await this.admitRequest({ ...loop, reservationId, tokens: 66, capped: true });
        if (!admitted.ok) throw new Error(`admission refused: ${admitted.reason}`);
        this.benchHeld.push(reservationId);
      }
      return this.benchHeld.length;
    },
    async benchReleaseHeld(this: KeyLike, loop: { model: string }) {
      for (const id of this.benchHeld ?? []) await this.settleRequests([settlementOf(id, loop.model)]);
      this.benchHeld = [];
      return 0;
    },
  },
};

// ── /__bench/* routes, run in the Worker ─────────────────────────────────────────────────

/** `concurrency` loops sharing `n` iterations of `step`. */
async function inFlight(n: number, concurrency: number, step: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const loop = async () => {
    while (next < n) await step(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, loop));
}

function stub(namespace: Namespace, name: string): Stub {
  return namespace.get(namespace.idFromName(name));
}

export async function benchFetch(request: Request, env: BenchEnv, ctx: unknown, app: App): Promise<Response> {
  const url = new URL(request.url);
  if (!url.pathname.startsWith('/__bench/')) return app.fetch(request, env, ctx);
  const input: unknown = request.method === 'POST' ? await request.json() : {};
  switch (url.pathname) {
    case '/__bench/noop':
      return Response.json({ ok: true });
    case '/__bench/counters':
      return Response.json(readCounters(url.searchParams.has('reset')));
    case '/__bench/pool/inside': {
      const { model, ...loop } = input as { model: string } & PickLoop;
      return Response.json({ n: await stub(env.MODEL_POOL, model).benchPicks!(loop) });
    }
    case '/__bench/pool/storage': {
      const { model } = input as { model: string };
      return Response.json(await stub(env.MODEL_POOL, model).benchStorage!());
    }
    case '/__bench/rpc-cost': {
      // One RPC that only reads (the pool's policy), or one that writes a row (sets it to what it is).
      const { model, n, write } = input as { model: string; n: number; write: boolean };
      const pool = stub(env.MODEL_POOL, model);
      for (let i = 0; i < n; i++) await (write ? pool.setPolicy!('affinity') : pool.routingPolicy!());
      return Response.json({ n });
    }
    case '/__bench/pool/rpc': {
      const { model, n, concurrency, ...loop } = input as { model: string; concurrency: number } & PickLoop;
      const pool = stub(env.MODEL_POOL, model);
      await inFlight(n, concurrency, async (i) => {
        const pick = pickRequest(i, loop);
        const picked = (await pool.pick!(pick)) as { ok: boolean; reason?: string };
        if (!picked.ok) throw new Error(`pick refused: ${picked.reason}`);
        await pool.release!(pick.leaseId, 'ok', CACHE);
      });
      return Response.json({ n });
    }
    case '/__bench/key/inside':
    case '/__bench/key/hold':
    case '/__bench/key/release': {
      const { keyId, secret, model, n } = input as {
        keyId: string;
        secret: string;
        model: string;
        n: number;
      };
      const key = stub(env.API_KEY, keyId);
      const loop = { n, model, secretHash: await sha256Hex(secret) };
      const method =
        url.pathname === '/__bench/key/inside'
          ? 'benchAdmits'
          : url.pathname === '/__bench/key/hold'
            ? 'benchHold'
            : 'benchReleaseHeld';
      return Response.json({ n: await key[method]!(loop) });
    }
    case '/__bench/key/rpc': {
      const { keyId, secret, model, n, concurrency } = input as {
        keyId: string;
        secret: string;
        model: string;
        n: number;
        concurrency: number;
      };
      const key = stub(env.API_KEY, keyId);
      const secretHash = await sha256Hex(secret);
      await inFlight(n, concurrency, async () => {
        const reservationId = `bench-${leaseSeq++}`;
        const admitted = (await key.admitRequest!({
          secretHash,
          model,
          reservationId,
          tokens: 66,
          capped: true,
        })) as {
          ok: boolean;
          reason?: string;
        };
        if (!admitted.ok) throw new Error(`admission refused: ${admitted.reason}`);
        await key.settleRequests!([settlementOf(reservationId, model)]);
      });
      return Response.json({ n });
    }
  }
  return new Response('unknown bench route', { status: 404 });
}
