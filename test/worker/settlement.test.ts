/**
 * Every admitted call gives back what it took, whatever happens to it: after a fuzzed mix of
 * outcomes run in parallel (engine answers, engine errors, broken and stalled streams, client
 * aborts before and after the first byte, unknown models, limit refusals), the key holds no
 * reservation and no pool holds a lease, and every call is counted once in the usage tables.
 */
import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { parseCredential, sha256Hex } from '../../src/credentials.ts';
import { apiKey } from '../../workers/objects/stubs.ts';
import {
  call,
  createKeyRecord,
  engine,
  keyInflight,
  poolSnapshot,
  registerLiveNode,
  uniqueModel,
  usageTotals,
} from './helpers.ts';

/** A small seeded PRNG (mulberry32), so a failing mix can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Scenario =
  | 'ok'
  | 'ok-stream'
  | 'engine-5xx'
  | 'engine-4xx'
  | 'midstream'
  | 'stall'
  | 'first-byte-timeout'
  | 'abort-mid-stream'
  | 'abort-before-first-byte'
  | 'abort-anytime'
  | 'unknown-model';

const SCENARIOS: Scenario[] = [
  'ok',
  'ok-stream',
  'engine-5xx',
  'engine-4xx',
  'midstream',
  'stall',
  'first-byte-timeout',
  'abort-mid-stream',
  'abort-before-first-byte',
  'abort-anytime',
  'unknown-model',
];

/** The fake node behaviour each scenario's model is served by (none: no engine at all). */
const BEHAVIOUR: Record<Scenario, string | null> = {
  ok: 'ok',
  'ok-stream': 'ok',
  'engine-5xx': 'fail500',
  'engine-4xx': 'reject400',
  midstream: 'midstream',
  stall: 'stall',
  'first-byte-timeout': 'silent',
  'abort-mid-stream': 'slow',
  'abort-before-first-byte': 'silent',
  'abort-anytime': 'slow',
  'unknown-model': null,
};

const STREAMS = new Set<Scenario>(['ok-stream', 'midstream', 'stall', 'abort-mid-stream', 'abort-anytime']);

async function runScenario(
  key: string,
  model: string,
  scenario: Scenario,
  rand: () => number,
): Promise<string> {
  const client = new AbortController();
  const stream = STREAMS.has(scenario);
  const pending = call('/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, max_tokens: 32, messages: [{ role: 'user', content: 'fuzz' }] }),
    signal: client.signal,
  });
  try {
    if (scenario === 'abort-before-first-byte' || scenario === 'abort-anytime') {
      const timer = setTimeout(() => client.abort(), Math.floor(rand() * 120));
      const res = await pending;
      if (res.status !== 200) {
        clearTimeout(timer);
        return `${res.status}`;
      }
      await res.text();
      clearTimeout(timer);
      return '200';
    }
    const res = await pending;
    if (scenario === 'abort-mid-stream' && res.status === 200) {
      const reader = res.body!.getReader();
      await reader.read();
      await sleep(Math.floor(rand() * 60));
      await reader.cancel();
      return 'aborted mid-stream';
    }
    await res.arrayBuffer();
    return `${res.status}`;
  } catch {
    return 'aborted';
  }
}

describe('reservations and leases after a fuzzed mix of outcomes', () => {
  for (const seed of [1, 2]) {
    it(`returns every reservation and lease, and counts every call once (seed ${seed})`, async () => {
      const rand = random(seed);
      const models = new Map<Scenario, string>();
      const engines = [];
      for (const scenario of SCENARIOS) {
        const model = uniqueModel(`fuzz-${scenario}`);
        models.set(scenario, model);
        const behaviour = BEHAVIOUR[scenario];
        if (behaviour) engines.push(engine(behaviour, model, { maxConcurrency: 100 }));
      }
      // The mix runs past the 1 s after which a silent node is unhealthy: keep it reporting.
      const live = await registerLiveNode(engines);
      const { id, key } = await createKeyRecord({ limits: { concurrency: 40 } });

      const count = 90;
      const picks = Array.from({ length: count }, () => SCENARIOS[Math.floor(rand() * SCENARIOS.length)]!);
      const results = await Promise.all(
        picks.map(async (scenario, i) => {
          await sleep(i % 10); // a little spread, still overlapping
          return [scenario, await runScenario(key, models.get(scenario)!, scenario, rand)] as const;
        }),
      );
      const seen = new Set(results.map(([, outcome]) => outcome));
      // The mix did exercise the paths it is about.
      for (const outcome of ['200', '404', '400']) expect([...seen]).toContain(outcome);
      // An engine that keeps failing answers 500, or 503 once the pool stops trying it.
      expect(seen.has('500') || seen.has('503')).toBe(true);

      // Settlement runs after the answers (waitUntil): on a loaded machine it can take seconds.
      await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0), { timeout: 20_000, interval: 50 });
      for (const [scenario, model] of models) {
        if (!BEHAVIOUR[scenario]) continue;
        await vi.waitFor(
          async () =>
            expect(
              (await poolSnapshot(model)).map((e) => e.inflight),
              scenario,
            ).toEqual([0]),
          { timeout: 20_000, interval: 50 },
        );
      }
      await live.stop();
      // Every call, refused or not, is one request in the usage tables.
      await vi.waitFor(async () => expect((await usageTotals(id)).requests).toBe(count), {
        timeout: 5_000,
        interval: 50,
      });
    }, 30_000);
  }

  it('returns the slots of calls refused by the pool after admission (no engine, saturated engines)', async () => {
    const saturated = uniqueModel('saturated');
    const live = await registerLiveNode([engine('slow', saturated, { maxConcurrency: 1 })]);
    const { id, key } = await createKeyRecord({ limits: { concurrency: 10 } });
    const send = (model: string) =>
      call('/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'x' }] }),
      });
    // ENGINE_OVERCOMMIT is 2: two streams fill the engine, the rest are refused by the pool.
    const holding = [await send(saturated), await send(saturated)];
    const refused = await Promise.all(Array.from({ length: 5 }, () => send(saturated)));
    expect(refused.map((r) => r.status)).toEqual([429, 429, 429, 429, 429]);
    const codes = await Promise.all(
      refused.map(async (r) => ((await r.json()) as { error: { code: string } }).error.code),
    );
    expect(new Set(codes)).toEqual(new Set(['model_overloaded']));
    const unknown = await send(uniqueModel('no-such'));
    expect(unknown.status).toBe(404);
    await unknown.arrayBuffer();
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(2));
    for (const res of holding) await res.body!.cancel();
    await vi.waitFor(async () => expect(await keyInflight(id)).toBe(0));
    await vi.waitFor(async () => expect((await poolSnapshot(saturated))[0]!.inflight).toBe(0));
    await live.stop();
  });
});

describe("the key's object writes its hot state once per batch of calls (group commit)", () => {
  it('admits calls that arrive together exactly, answering each only once a shared write holds it', async () => {
    const { id, key } = await createKeyRecord({ limits: { rpm: 15 } });
    const stub = apiKey(env, id);
    const secretHash = await sha256Hex(parseCredential(key)!.secret);
    const saves: string[] = [];
    await runInDurableObject(stub, (instance) => {
      const holder = instance as unknown as { save(name: string, value: unknown): void };
      const save = holder.save.bind(holder);
      holder.save = (name, value) => {
        saves.push(name);
        save(name, value);
      };
    });
    const admissions = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        stub.admitRequest({ secretHash, model: 'm', reservationId: `batch-${i}`, tokens: 1, capped: true }),
      ),
    );
    // Exact under the batching: 15 admitted, 5 refused.
    expect(admissions.filter((a) => a.ok)).toHaveLength(15);
    // Written once per batch: without batching each admitted call writes the limiter on its own
    // (15 writes); here it was 5 in a typical run.
    const limiterWrites = saves.filter((name) => name === 'limiter').length;
    expect(limiterWrites).toBeGreaterThan(0);
    expect(limiterWrites).toBeLessThan(15);
    // What was answered was written: a fresh instance reads the 15 reservations back.
    expect(await stub.inflight()).toBe(15);
    await runInDurableObject(stub, (_instance, state) => state.abort('test: restart')).catch(() => {});
    expect(await apiKey(env, id).inflight()).toBe(15);
  });
});
