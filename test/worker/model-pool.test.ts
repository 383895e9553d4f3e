/**
 * The ModelPool Durable Object, called directly: leases, their renewal and expiry, a restart, refusals, session
 * affinity and exclusion. Each test owns a pool (a model name no other test uses) and feeds it
 * engines the way the registry does, through `syncNode`.
 */
import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { EXPIRE_AFTER_MS } from '../../src/limits/hold-renewal.ts';
import { uniqueModel } from './helpers.ts';
import type { LeaseBook } from '../../workers/objects/lease-book.ts';
import type { ModelPool, PickResult, PoolEngine } from '../../workers/objects/model-pool.ts';
import { modelPool } from '../../workers/objects/stubs.ts';

const OVERCOMMIT = Number(env.ENGINE_OVERCOMMIT);

function poolEngine(nodeId: string, engineId: string, overrides: Partial<PoolEngine> = {}): PoolEngine {
  return {
    nodeId,
    engineId,
    url: `http://${nodeId}.test:8080`,
    owner: 'operator',
    available: true,
    running: 0,
    waiting: 0,
    kvCacheUsage: 0,
    maxConcurrency: 4,
    reportedAt: Date.now(),
    ...overrides,
  };
}

/** A fresh pool with one engine per node: `engines` maps node id → engine id. */
async function poolWith(label: string, engines: Record<string, string>, overrides: Partial<PoolEngine> = {}) {
  const pool = modelPool(env, uniqueModel(label));
  for (const [nodeId, engineId] of Object.entries(engines)) {
    await pool.syncNode(nodeId, [poolEngine(nodeId, engineId, overrides)]);
  }
  return pool;
}

type Pool = ReturnType<typeof modelPool>;

async function inflight(pool: Pool): Promise<Record<string, number>> {
  return Object.fromEntries((await pool.snapshot()).map((e) => [e.engineKey, e.inflight]));
}

let leaseCounter = 0;
const newLeaseId = () => `lease-${++leaseCounter}-${crypto.randomUUID()}`;

/** Picks and expects a lease; returns the engine it landed on. */
async function pickEngine(pool: Pool, request: { affinityKey?: string; exclude?: string[] } = {}) {
  const picked: PickResult = await pool.pick({ leaseId: newLeaseId(), ...request });
  if (!picked.ok) throw new Error(`expected a lease, got ${JSON.stringify(picked)}`);
  return picked.lease;
}

/** The pool's own lease book, reached inside the object: its sweep timer runs every 5 s. */
interface PoolInternals {
  leases: Pick<LeaseBook, 'sweepSilent'> & { records: Map<string, { aliveAt: number }> };
}

/** Makes the pool believe `leaseId` was last renewed `ms` ago, then runs its sweep. */
async function silenceThenSweep(pool: Pool, silent: Record<string, number>): Promise<void> {
  await runInDurableObject(pool, (instance: ModelPool) => {
    const internals = instance as unknown as PoolInternals;
    for (const [leaseId, ms] of Object.entries(silent))
      internals.leases.records.get(leaseId)!.aliveAt = Date.now() - ms;
    internals.leases.sweepSilent();
  });
}

describe('ModelPool leases', () => {
  it('counts a lease in flight from pick to release, and a second release changes nothing', async () => {
    const pool = await poolWith('lease', { n1: 'e1' });
    const picked = await pool.pick({ leaseId: 'first' });
    expect(picked).toStrictEqual({
      ok: true,
      lease: {
        leaseId: 'first',
        engineKey: 'n1/e1',
        nodeId: 'n1',
        engineId: 'e1',
        url: 'http://n1.test:8080',
        owner: 'operator',
      },
    });
    expect(await inflight(pool)).toEqual({ 'n1/e1': 1 });
    await pool.pick({ leaseId: 'second' });
    expect(await inflight(pool)).toEqual({ 'n1/e1': 2 });

    expect(await pool.release('first', 'ok')).toBe(true);
    expect(await inflight(pool)).toEqual({ 'n1/e1': 1 });
    // Released again (a retried release whose first try did land): refused, count untouched.
    expect(await pool.release('first', 'ok')).toBe(false);
    expect(await pool.release('first', 'failed')).toBe(false);
    expect(await inflight(pool)).toEqual({ 'n1/e1': 1 });
    expect(await pool.release('never-granted', 'aborted')).toBe(false);
    expect(await inflight(pool)).toEqual({ 'n1/e1': 1 });

    expect(await pool.release('second', 'aborted')).toBe(true);
    expect(await inflight(pool)).toEqual({ 'n1/e1': 0 });
  });

  it('takes back a lease whose renewals stopped, and keeps one that is renewed', async () => {
    const pool = await poolWith('reap', { n1: 'e1' });
    await pool.pick({ leaseId: 'abandoned' });
    await pool.pick({ leaseId: 'renewed' });
    await pool.pick({ leaseId: 'fresh' });
    expect(await inflight(pool)).toEqual({ 'n1/e1': 3 });

    // A Worker that died just over the expiry ago; a call whose renewal came just before the sweep.
    await silenceThenSweep(pool, { abandoned: EXPIRE_AFTER_MS + 1, renewed: EXPIRE_AFTER_MS + 1 });
    expect(await inflight(pool)).toEqual({ 'n1/e1': 1 });
    await silenceThenSweep(pool, { fresh: EXPIRE_AFTER_MS - 1_000 });
    expect(await inflight(pool)).toEqual({ 'n1/e1': 1 });

    // The reaped leases are gone for good: a late release changes nothing.
    expect(await pool.release('abandoned', 'ok')).toBe(false);
    expect(await pool.release('fresh', 'ok')).toBe(true);
    expect(await inflight(pool)).toEqual({ 'n1/e1': 0 });
  });

  it('counts renewed leases again after a restart that lost them', async () => {
    const model = uniqueModel('restart');
    const before = modelPool(env, model);
    for (const [nodeId, engineId] of [
      ['n1', 'e1'],
      ['n2', 'e2'],
    ] as const) {
      await before.syncNode(nodeId, [poolEngine(nodeId, engineId)]);
    }
    const a = await pickEngine(before);
    const b = await pickEngine(before);
    expect(Object.values(await inflight(before)).reduce((x, y) => x + y)).toBe(2);

    // The object restarts (a crash, a deploy): leases live in memory and are gone with it.
    await runInDurableObject(before, (_instance, state) => state.abort('test: restart')).catch(() => {});
    const pool = modelPool(env, model);
    expect(Object.values(await inflight(pool)).reduce((x, y) => x + y)).toBe(0);

    // Each call's next renewal (within seconds) counts its lease again, on the engine it holds.
    expect(await pool.renewLeases([a, b].map(({ leaseId, engineKey }) => ({ leaseId, engineKey })))).toBe(2);
    const expected: Record<string, number> = { 'n1/e1': 0, 'n2/e2': 0 };
    for (const lease of [a, b]) expected[lease.engineKey]! += 1;
    expect(await inflight(pool)).toEqual(expected);
    // A renewal is not a second grant, and the restored leases return normally.
    expect(await pool.renewLeases([{ leaseId: a.leaseId, engineKey: a.engineKey }])).toBe(1);
    expect(await pool.release(a.leaseId, 'ok')).toBe(true);
    expect(await pool.release(b.leaseId, 'ok')).toBe(true);
    expect(await inflight(pool)).toEqual({ 'n1/e1': 0, 'n2/e2': 0 });
    // A renewal for an engine the pool no longer has counts nothing.
    expect(await pool.renewLeases([{ leaseId: 'orphan', engineKey: 'gone/e9' }])).toBe(0);
  });
});

describe('ModelPool refusals', () => {
  it('unknown_model when the pool has no engines', async () => {
    const pool = modelPool(env, uniqueModel('empty'));
    expect(await pool.pick({ leaseId: newLeaseId() })).toStrictEqual({
      ok: false,
      reason: 'unknown_model',
      retryAfterSeconds: 0,
    });

    // And again once the only node serving it has gone.
    await pool.syncNode('n1', [poolEngine('n1', 'e1')]);
    await pickEngine(pool);
    await pool.removeNode('n1');
    expect(await pool.pick({ leaseId: newLeaseId() })).toMatchObject({ ok: false, reason: 'unknown_model' });
  });

  it('no_available_engine when no engine is available, with a retry by the next heartbeat', async () => {
    const pool = await poolWith('unavailable', { n1: 'e1', n2: 'e2' }, { available: false });
    const retryAfterSeconds = Math.max(1, Math.ceil(Number(env.HEARTBEAT_INTERVAL_MS) / 1000));
    expect(await pool.pick({ leaseId: newLeaseId() })).toStrictEqual({
      ok: false,
      reason: 'no_available_engine',
      retryAfterSeconds,
    });
    expect(await inflight(pool)).toEqual({ 'n1/e1': 0, 'n2/e2': 0 });

    // Once one turns ready it is used.
    await pool.syncNode('n2', [poolEngine('n2', 'e2')]);
    expect((await pickEngine(pool)).engineKey).toBe('n2/e2');
  });

  it('engines_saturated once every engine holds maxConcurrency × ENGINE_OVERCOMMIT leases', async () => {
    expect(OVERCOMMIT).toBe(2); // wrangler.toml
    const maxConcurrency = 2;
    const pool = await poolWith('saturated', { n1: 'e1', n2: 'e2' }, { maxConcurrency });
    const perEngine = maxConcurrency * OVERCOMMIT;
    const leases = [];
    for (let i = 0; i < 2 * perEngine; i++) leases.push(await pickEngine(pool));
    expect(await inflight(pool)).toEqual({ 'n1/e1': perEngine, 'n2/e2': perEngine });

    expect(await pool.pick({ leaseId: newLeaseId() })).toStrictEqual({
      ok: false,
      reason: 'engines_saturated',
      retryAfterSeconds: 1,
    });
    // A session does not get past the cap either.
    expect(await pool.pick({ leaseId: newLeaseId(), affinityKey: 'acme:s' })).toMatchObject({
      ok: false,
      reason: 'engines_saturated',
    });
    expect(await inflight(pool)).toEqual({ 'n1/e1': perEngine, 'n2/e2': perEngine });

    // One lease back on e2 makes room there, and only there.
    const onE2 = leases.find((lease) => lease.engineKey === 'n2/e2')!;
    expect(await pool.release(onE2.leaseId, 'ok')).toBe(true);
    expect((await pickEngine(pool)).engineKey).toBe('n2/e2');
    expect(await pool.pick({ leaseId: newLeaseId() })).toMatchObject({
      ok: false,
      reason: 'engines_saturated',
    });
  });
});

describe('ModelPool session affinity', () => {
  /** Reports `engineKey`'s engine as busy (3 of 4 slots running), the other as idle. */
  async function reportBusy(pool: Pool, engineKey: string) {
    for (const [nodeId, engineId] of [
      ['n1', 'e1'],
      ['n2', 'e2'],
    ] as const) {
      const running = `${nodeId}/${engineId}` === engineKey ? 3 : 0;
      await pool.syncNode(nodeId, [poolEngine(nodeId, engineId, { running })]);
    }
  }
  const other = (engineKey: string) => (engineKey === 'n1/e1' ? 'n2/e2' : 'n1/e1');

  it('keeps a session on its engine even when another engine is less loaded', async () => {
    const pool = await poolWith('sticky', { n1: 'e1', n2: 'e2' });
    const first = await pickEngine(pool, { affinityKey: 'acme:session-1' });
    await reportBusy(pool, first.engineKey);

    // Without a session, load decides…
    expect((await pickEngine(pool)).engineKey).toBe(other(first.engineKey));
    // …with one, the session's engine wins, every time.
    for (let i = 0; i < 3; i++) {
      expect((await pickEngine(pool, { affinityKey: 'acme:session-1' })).engineKey).toBe(first.engineKey);
    }
    expect(await inflight(pool)).toEqual({ [first.engineKey]: 4, [other(first.engineKey)]: 1 });
  });

  it('scopes sessions by tenant: the same session id under another tenant is not pinned', async () => {
    const pool = await poolWith('tenants', { n1: 'e1', n2: 'e2' });
    // As the gateway builds them (workers/gateway/routes/openai.ts): `${tenant}:${session}`.
    const a = await pickEngine(pool, { affinityKey: 'tenant-a:shared-session' });
    await reportBusy(pool, a.engineKey);

    const b = await pickEngine(pool, { affinityKey: 'tenant-b:shared-session' });
    expect(b.engineKey).toBe(other(a.engineKey));
    // Each tenant's session now sticks to its own engine.
    expect((await pickEngine(pool, { affinityKey: 'tenant-a:shared-session' })).engineKey).toBe(a.engineKey);
    expect((await pickEngine(pool, { affinityKey: 'tenant-b:shared-session' })).engineKey).toBe(b.engineKey);
  });
});

describe('ModelPool exclude', () => {
  it('keeps a pick away from excluded engines, even the less loaded one', async () => {
    const pool = await poolWith('exclude', { n1: 'e1', n2: 'e2', n3: 'e3' });
    await pool.syncNode('n2', [poolEngine('n2', 'e2', { running: 3 })]);
    await pool.syncNode('n3', [poolEngine('n3', 'e3', { running: 3 })]);
    // e1 is the idle one; excluded, the pick goes to e2 or e3 however often it is asked.
    for (let i = 0; i < 6; i++) {
      expect(['n2/e2', 'n3/e3']).toContain((await pickEngine(pool, { exclude: ['n1/e1'] })).engineKey);
    }
    for (let i = 0; i < 3; i++) {
      expect((await pickEngine(pool, { exclude: ['n1/e1', 'n2/e2'] })).engineKey).toBe('n3/e3');
    }
    expect((await inflight(pool))['n1/e1']).toBe(0);
    expect(await pool.pick({ leaseId: newLeaseId(), exclude: ['n1/e1', 'n2/e2', 'n3/e3'] })).toMatchObject({
      ok: false,
      reason: 'no_available_engine',
    });
  });

  it('overrides session affinity: a failover does not go back to the engine that failed', async () => {
    const pool = await poolWith('exclude-sticky', { n1: 'e1', n2: 'e2' });
    const first = await pickEngine(pool, { affinityKey: 'acme:s' });
    const retry = await pickEngine(pool, { affinityKey: 'acme:s', exclude: [first.engineKey] });
    expect(retry.engineKey).not.toBe(first.engineKey);
  });
});
