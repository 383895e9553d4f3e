/**
 * A call's settlement and lease return ride along with the next call going to the same key's
 * object and the same pool (workers/gateway/dispatch/ride-along.ts), or go alone, together,
 * a few milliseconds later; a lease return that could overtake its own call's messages never rides.
 */
import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RENEW_EVERY_MS } from '../../src/limits/hold-renewal.ts';
import { HeldLease } from '../../workers/gateway/dispatch/held-lease.ts';
import { RideAlong, deliverCarried } from '../../workers/gateway/dispatch/ride-along.ts';
import type { LeaseReturn } from '../../workers/objects/model-pool.ts';
import { apiKey, modelPool } from '../../workers/objects/stubs.ts';
import {
  chat,
  createKeyRecord,
  engine,
  expectLeasesBack,
  keyInflight,
  registerNode,
  uniqueModel,
} from './helpers.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RideAlong', () => {
  it('sends what nobody carried alone, once, all together, after the wait', async () => {
    const queue = new RideAlong<number>(20);
    const sent: number[][] = [];
    const sendAlone = async (items: number[]) => void sent.push(items);
    const first = queue.wait('key-a', 1, sendAlone);
    const second = queue.wait('key-a', 2, sendAlone);
    const other = queue.wait('key-b', 3, sendAlone);
    await second; // only the first of a batch waits
    expect(sent).toEqual([]);
    await Promise.all([first, other]);
    expect(sent).toEqual([[1, 2], [3]]);
    expect(queue.take('key-a')).toEqual([]);
  });

  it('hands a batch to the carrier that takes it, and never sends it alone then', async () => {
    const queue = new RideAlong<number>(20);
    const sent: number[][] = [];
    const sendAlone = async (items: number[]) => void sent.push(items);
    const waited = queue.wait('key-a', 1, sendAlone);
    void queue.wait('key-a', 2, sendAlone);
    expect(queue.take('key-a')).toEqual([1, 2]);
    expect(queue.take('key-a')).toEqual([]);
    // Items queued after the take start a new batch of their own.
    const later = queue.wait('key-a', 3, sendAlone);
    await Promise.all([waited, later]);
    expect(sent).toEqual([[3]]);
  });
});

describe('deliverCarried', () => {
  it("keeps the carrier's call alive, and sends what it carried alone only when the call failed", async () => {
    const kept: Promise<unknown>[] = [];
    const ctx = { waitUntil: (promise: Promise<unknown>) => void kept.push(promise) };
    const sent: number[][] = [];
    const sendAlone = async (items: number[]) => void sent.push(items);
    deliverCarried(ctx, Promise.resolve('admitted'), [1], sendAlone);
    deliverCarried(ctx, Promise.reject(new Error('object reset')), [2, 3], sendAlone);
    deliverCarried(ctx, new Promise(() => {}), [], sendAlone);
    expect(kept).toHaveLength(2);
    await Promise.all(kept);
    expect(sent).toEqual([[2, 3]]);
  });
});

describe('a lease return rides along only when it cannot overtake its own call', () => {
  afterEach(() => vi.useRealTimers());

  function lease() {
    const returns: Array<{ leaseReturn: LeaseReturn; inOrder: boolean }> = [];
    let renewals = 0;
    const held = new HeldLease(new AbortController().signal, {
      release: (leaseReturn, inOrder) => void returns.push({ leaseReturn, inOrder }),
      renew: () => {
        renewals++;
        return new Promise(() => {}); // still on its way
      },
    });
    return { held, returns, renewals: () => renewals };
  }

  it('goes in order when the pick has not answered (the pool may not have seen it yet)', () => {
    const { held, returns } = lease();
    held.release('aborted');
    expect(returns).toEqual([{ leaseReturn: { leaseId: held.leaseId, outcome: 'aborted' }, inOrder: true }]);
  });

  it('may ride once granted, with what the answer said of the cache', () => {
    const { held, returns } = lease();
    held.granted('node/engine');
    held.release('ok', { promptTokens: 10, cachedTokens: 4 });
    expect(returns).toEqual([
      {
        leaseReturn: { leaseId: held.leaseId, outcome: 'ok', cache: { promptTokens: 10, cachedTokens: 4 } },
        inOrder: false,
      },
    ]);
  });

  it('goes in order while a renewal is on its way (the pool would count the lease again)', async () => {
    vi.useFakeTimers();
    const { held, returns, renewals } = lease();
    held.granted('node/engine');
    await vi.advanceTimersByTimeAsync(RENEW_EVERY_MS);
    expect(renewals()).toBe(1);
    held.release('ok');
    expect(returns).toEqual([{ leaseReturn: { leaseId: held.leaseId, outcome: 'ok' }, inOrder: true }]);
  });
});

describe("a call's settlement and lease return, through the gateway", () => {
  it("ride along with the key's next call, settled before it is judged", async () => {
    // Concurrency 1: were the first call's settlement to arrive after the next admission, the
    // next call would be refused.
    const { id, key } = await createKeyRecord({ limits: { concurrency: 1 } });
    const model = uniqueModel('ride-along');
    await registerNode([engine('ok', model)]);
    const events: string[] = [];
    await runInDurableObject(apiKey(env, id), (instance) => {
      const holder = instance as unknown as {
        settle(list: unknown[]): Promise<number>;
        admit(input: unknown): Promise<unknown>;
      };
      const [settle, admit] = [holder.settle.bind(holder), holder.admit.bind(holder)];
      holder.settle = (list) => {
        if (list.length > 0) events.push(`settle ${list.length}`);
        return settle(list);
      };
      holder.admit = (input) => {
        events.push('admit');
        return admit(input);
      };
    });
    const pool: string[] = [];
    await runInDurableObject(modelPool(env, model), (instance) => {
      const leases = (
        instance as unknown as { leases: { hold(...args: unknown[]): void; take(id: string): unknown } }
      ).leases;
      const [hold, take] = [leases.hold.bind(leases), leases.take.bind(leases)];
      leases.hold = (...args) => {
        pool.push('grant');
        hold(...args);
      };
      leases.take = (id) => {
        pool.push('return');
        return take(id);
      };
    });

    for (let i = 0; i < 4; i++) expect((await chat(key, { model })).status).toBe(200);
    // Each call after the first carried the one before it, and nothing went alone meanwhile.
    expect(events.slice(0, 7)).toEqual([
      'admit',
      'settle 1',
      'admit',
      'settle 1',
      'admit',
      'settle 1',
      'admit',
    ]);
    expect(pool.slice(0, 7)).toEqual(['grant', 'return', 'grant', 'return', 'grant', 'return', 'grant']);
    // The last call's went alone, a few milliseconds later.
    await vi.waitFor(() => expect(events).toHaveLength(8));
    expect(events[7]).toBe('settle 1');
    await vi.waitFor(() => expect(pool).toHaveLength(8));
    expect(await keyInflight(id)).toBe(0);
    await expectLeasesBack(model);
  });

  it('go alone, together, when no call of the key follows', async () => {
    const { id, key } = await createKeyRecord({ limits: { concurrency: 3 } });
    const model = uniqueModel('alone');
    await registerNode([engine('ok', model)]);
    const answers = await Promise.all([1, 2, 3].map(() => chat(key, { model })));
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200]);
    await sleep(50);
    expect(await keyInflight(id)).toBe(0);
    await expectLeasesBack(model);
  });
});
