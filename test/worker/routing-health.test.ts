/**
 * Health before policy: circuit breakers, draining, stale reports, failover, and leases that
 * come back to exactly zero whatever happens to the requests.
 */
import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import fc from 'fast-check';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import type { BreakerState } from '../../src/routing/circuit-breaker.ts';
import type { EngineView, ModelPool, PoolEngine } from '../../workers/objects/model-pool.ts';
import { modelPool } from '../../workers/objects/stubs.ts';
import {
  call,
  chat,
  createApiKey,
  engine,
  fakeNodeLog,
  poolSnapshot,
  registerLiveNode,
  uniqueModel,
} from './helpers.ts';

async function liveNode(engines: Parameters<typeof registerLiveNode>[0]) {
  const live = await registerLiveNode(engines);
  onTestFinished(() => live.stop());
  return live.node;
}

function poolEngine(nodeId: string, fields: Partial<PoolEngine> = {}): PoolEngine {
  return {
    nodeId,
    engineId: 'e',
    url: `http://${nodeId}.test:8080`,
    owner: 'operator',
    available: true,
    running: 0,
    waiting: 0,
    kvCacheUsage: 0,
    maxConcurrency: 4,
    reportedAt: Date.now(),
    ...fields,
  };
}

let leases = 0;
async function pickFrom(pool: ReturnType<typeof modelPool>) {
  const picked = await pool.pick({ leaseId: `health-${++leases}` });
  if (!picked.ok) throw new Error(`expected a lease, got ${JSON.stringify(picked)}`);
  return picked.lease;
}

/** Ends an open breaker's cool-down now, as if it had passed. */
async function endCoolDown(pool: ReturnType<typeof modelPool>, engineKey: string): Promise<void> {
  await runInDurableObject(pool, (instance: ModelPool) => {
    const engine = (instance as unknown as { engines: Map<string, EngineView> }).engines.get(engineKey)!;
    if (engine.breaker.state === 'open') engine.breaker = { ...engine.breaker, until: Date.now() };
  });
}

const breakerOf = async (
  pool: ReturnType<typeof modelPool>,
  engineKey: string,
): Promise<BreakerState['state']> =>
  (await pool.snapshot()).find((e) => e.engineKey === engineKey)!.breaker.state;

describe('circuit breaker', () => {
  it('opens after three failures in a row, half-opens for one probe after the cool-down, and closes on success', async () => {
    const pool = modelPool(env, uniqueModel('breaker'));
    await pool.syncNode('bad', [poolEngine('bad')]);
    await pool.syncNode('good', [poolEngine('good', { running: 3 })]);
    // Only `bad` is idle, so it is picked until its breaker opens.
    for (let i = 0; i < 3; i++) {
      const lease = await pickFrom(pool);
      expect(lease.engineKey).toBe('bad/e');
      await pool.release(lease.leaseId, 'failed');
    }
    expect(await breakerOf(pool, 'bad/e')).toBe('open');
    for (let i = 0; i < 4; i++) {
      const lease = await pickFrom(pool);
      expect(lease.engineKey).toBe('good/e');
      await pool.release(lease.leaseId, 'ok');
    }

    await endCoolDown(pool, 'bad/e');
    expect(await breakerOf(pool, 'bad/e')).toBe('half-open');
    const probe = await pickFrom(pool);
    expect(probe.engineKey).toBe('bad/e');
    // One probe at a time: while it runs, everything else goes to `good`.
    expect((await pickFrom(pool)).engineKey).toBe('good/e');
    await pool.release(probe.leaseId, 'ok');
    expect(await breakerOf(pool, 'bad/e')).toBe('closed');
    const again = await pool.pick({ leaseId: `health-${++leases}`, exclude: ['good/e'] });
    expect(again).toMatchObject({ ok: true, lease: { engineKey: 'bad/e' } });
  });

  it('answers 503 with the cool-down as retry-after once the only engine keeps failing', async () => {
    const key = await createApiKey();
    const model = uniqueModel('breaker-gateway');
    await liveNode([engine('fail500', model)]);
    for (let i = 0; i < 3; i++) {
      const res = await chat(key, { model });
      expect(res.status).toBe(500);
      expect(res.headers.get('x-switchyard-engine')).toMatch(/\/fail500$/);
    }
    const refused = await chat(key, { model });
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(5);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('no_available_engine');
  });
});

describe('drain, stale reports and failover', () => {
  it('gives a draining node no new leases', async () => {
    const key = await createApiKey();
    const model = uniqueModel('drain-routing');
    const draining = await liveNode([engine('ok-1', model)]);
    await liveNode([engine('ok-2', model)]);
    const res = await call('/nodes/drain', {
      method: 'POST',
      headers: { authorization: `Bearer ${draining.credential}` },
    });
    expect(res.status).toBe(200);
    for (let i = 0; i < 6; i++) {
      const answer = await chat(key, { model, messages: [{ role: 'user', content: `q${i}` }] });
      expect(answer.headers.get('x-switchyard-engine')).toMatch(/\/ok-2$/);
      await answer.arrayBuffer();
    }
  });

  it('treats an engine whose report is stale as unknown, not idle', async () => {
    const pool = modelPool(env, uniqueModel('stale'));
    await pool.syncNode('quiet', [poolEngine('quiet', { reportedAt: Date.now() - 60_000 })]);
    await pool.syncNode('never', [poolEngine('never', { reportedAt: null })]);
    await pool.syncNode('busy', [poolEngine('busy', { running: 3 })]);
    for (let i = 0; i < 5; i++) {
      const lease = await pickFrom(pool);
      expect(lease.engineKey).toBe('busy/e');
      await pool.release(lease.leaseId, 'ok');
    }
  });

  it("fails over away from a session's engine when it fails, and names the engine that answered", async () => {
    const key = await createApiKey();
    const model = uniqueModel('session-failover');
    const session = { 'x-session-id': 'conv-9' };
    await liveNode([engine('fail500', model)]);
    // The session's first turn pins it to the failing engine, the only one there is.
    expect((await chat(key, { model }, session)).status).toBe(500);
    await liveNode([engine('ok', model)]);
    const res = await chat(key, { model }, { ...session, 'x-request-id': 'session-failover-1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-engine')).toMatch(/\/ok$/);
    const tried = (await fakeNodeLog())
      .filter((r) => r.headers['x-request-id'] === 'session-failover-1')
      .map((r) => r.engine);
    expect(tried).toEqual(['fail500', 'ok']);
  });
});

describe('leases', () => {
  type Ending = 'read' | 'abort-early' | 'abort-after-first-chunk';
  const requestMix = fc.array(
    fc.record({
      topic: fc.constantFrom('a', 'b', 'c', 'd'),
      session: fc.option(fc.constantFrom('s1', 's2', 's3'), { nil: undefined }),
      stream: fc.boolean(),
      ending: fc.constantFrom<Ending>('read', 'abort-early', 'abort-after-first-chunk'),
    }),
    { minLength: 30, maxLength: 30 },
  );

  it('returns in-flight to exactly zero after a fuzzed mix of success, engine errors, broken streams, timeouts and aborts', async () => {
    const key = await createApiKey();
    const model = uniqueModel('lease-fuzz');
    // Where a request lands decides what happens to it: answers, 500s, streams cut mid-way, silence.
    await liveNode(
      ['ok', 'fail500', 'midstream', 'stall', 'silent'].map((id) =>
        engine(id, model, { maxConcurrency: 64 }),
      ),
    );
    const [mix] = fc.sample(requestMix, { seed: 12, numRuns: 1 });
    const outcomes = await Promise.all(
      mix!.map(async (request, i) => {
        const abort = new AbortController();
        if (request.ending === 'abort-early') setTimeout(() => abort.abort(), i % 7);
        const body = JSON.stringify({
          model,
          stream: request.stream,
          messages: [
            { role: 'system', content: `Topic ${request.topic}. `.repeat(60) },
            { role: 'user', content: `q${i}` },
          ],
        });
        const headers: Record<string, string> = {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
        };
        if (request.session) headers['x-session-id'] = request.session;
        try {
          const res = await call('/v1/chat/completions', {
            method: 'POST',
            headers,
            body,
            signal: abort.signal,
          });
          if (request.ending === 'abort-after-first-chunk' && res.body) {
            const reader = res.body.getReader();
            await reader.read();
            await reader.cancel();
            return 'aborted mid-answer';
          }
          await res.arrayBuffer();
          return String(res.status);
        } catch {
          return 'aborted';
        }
      }),
    );
    expect(new Set(outcomes).size).toBeGreaterThan(2);
    await vi.waitFor(
      async () => expect((await poolSnapshot(model)).map((e) => e.inflight)).toEqual([0, 0, 0, 0, 0]),
      { timeout: 10_000, interval: 100 },
    );
  }, 30_000);
});
