/**
 * Where requests land, through the gateway: sessions, strict interactive sessions, shared
 * prefixes, and the load bound that spills a hot prefix. Every answer names its engine in
 * `x-switchyard-engine`.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { requestPrefixHashes } from '../../src/routing/prefix-blocks.ts';
import type { PoolEngine } from '../../workers/objects/model-pool.ts';
import { modelPool } from '../../workers/objects/stubs.ts';
import {
  ADMIN,
  call,
  chat,
  createApiKey,
  engine,
  fakeNodeLoad,
  poolSnapshot,
  registerLiveNode,
  releaseHeld,
  uniqueModel,
} from './helpers.ts';

/** A system prompt of ~2,000 characters (eight prefix blocks), different for each `topic`. */
const systemPrompt = (topic: string) =>
  `You answer questions about ${topic}. `.repeat(2000 / (27 + topic.length));

function conversation(topic: string, turns: number) {
  const messages: Array<{ role: string; content: string }> = [
    { role: 'system', content: systemPrompt(topic) },
  ];
  for (let turn = 1; turn <= turns; turn++) {
    if (turn > 1) messages.push({ role: 'assistant', content: `Answer ${turn - 1}.` });
    messages.push({ role: 'user', content: `Question ${turn} about ${topic}?` });
  }
  return messages;
}

async function servedBy(res: Response, engine = /\/ok-\d$/): Promise<string> {
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  const engineKey = res.headers.get('x-switchyard-engine');
  expect(engineKey).toMatch(engine);
  return engineKey!;
}

/** A node that keeps reporting (the test config marks a silent one unhealthy after 1 s) until the test ends. */
async function liveNode(engines: Parameters<typeof registerLiveNode>[0]) {
  const live = await registerLiveNode(engines);
  onTestFinished(() => live.stop());
  return live.node;
}

function interactive(key: string, model: string, sessionId: number) {
  return call('/v1/chat/interactive', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt: 'and then?', session_id: sessionId }),
  });
}

describe('session affinity', () => {
  it('keeps a session on one engine across turns (x-session-id, or the user field)', async () => {
    const key = await createApiKey();
    const model = uniqueModel('sessions');
    await liveNode([engine('ok-1', model), engine('ok-2', model), engine('ok-3', model)]);
    for (const [label, session] of [
      [
        'header',
        (turn: number) =>
          chat(
            key,
            { model, messages: [{ role: 'user', content: `t${turn}` }] },
            { 'x-session-id': 'conv-1' },
          ),
      ],
      [
        'user',
        (turn: number) =>
          chat(key, { model, user: 'alice', messages: [{ role: 'user', content: `t${turn}` }] }),
      ],
    ] as const) {
      const engines = new Set<string>();
      for (let turn = 0; turn < 8; turn++) engines.add(await servedBy(await session(turn)));
      expect(engines.size, label).toBe(1);
    }
  });

  it('keeps a strict interactive session on its engine, and says so clearly once that engine is gone', async () => {
    const key = await createApiKey();
    const model = uniqueModel('interactive');
    const nodes = [await liveNode([engine('ok-1', model)]), await liveNode([engine('ok-2', model)])];
    const home = await servedBy(await interactive(key, model, 7));
    for (let turn = 0; turn < 5; turn++) expect(await servedBy(await interactive(key, model, 7))).toBe(home);
    // x-session-id cannot pull it elsewhere either.
    const res = await call('/v1/chat/interactive', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'x-session-id': 'other',
      },
      body: JSON.stringify({ model, prompt: 'still there?', session_id: 7 }),
    });
    expect(await servedBy(res)).toBe(home);

    const homeNode = nodes.find((node) => home.startsWith(`${node.nodeId}/`))!;
    const evicted = await call(`/admin/api/nodes/${homeNode.nodeId}`, { method: 'DELETE', headers: ADMIN });
    expect(evicted.status).toBe(200);
    const gone = await interactive(key, model, 7);
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe('session_engine_gone');
    // A new session is placed on the engine that is left.
    expect(await servedBy(await interactive(key, model, 8))).not.toBe(home);
  });

  it('refuses a strict session whose engine is draining, rather than moving it', async () => {
    const key = await createApiKey();
    const model = uniqueModel('interactive-drain');
    const nodes = [await liveNode([engine('ok-1', model)]), await liveNode([engine('ok-2', model)])];
    const home = await servedBy(await interactive(key, model, 3));
    const homeNode = nodes.find((node) => home.startsWith(`${node.nodeId}/`))!;
    const drained = await call('/nodes/drain', {
      method: 'POST',
      headers: { authorization: `Bearer ${homeNode.credential}` },
    });
    expect(drained.status).toBe(200);
    const refused = await interactive(key, model, 3);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'session_engine_unavailable',
    );
  });
});

describe('prefix affinity', () => {
  it('sends requests sharing a long prefix to one engine, and different prefixes apart', async () => {
    const key = await createApiKey();
    const model = uniqueModel('prefixes');
    await liveNode([engine('ok-1', model), engine('ok-2', model), engine('ok-3', model)]);
    const homes = new Map<string, string>();
    for (const topic of ['billing', 'shipping', 'returns', 'warranty', 'accounts', 'privacy']) {
      const engines = new Set<string>();
      // Growing turns of one conversation, then a new conversation under the same system prompt.
      for (let turn = 1; turn <= 3; turn++) {
        engines.add(await servedBy(await chat(key, { model, messages: conversation(topic, turn) })));
      }
      const other = [
        { role: 'system', content: systemPrompt(topic) },
        { role: 'user', content: 'New question.' },
      ];
      engines.add(await servedBy(await chat(key, { model, messages: other })));
      expect([...engines], topic).toHaveLength(1);
      homes.set(topic, [...engines][0]!);
    }
    expect(new Set(homes.values()).size).toBeGreaterThan(1);
  });

  it('spills a hot prefix over once its engine holds more than (1+ε) × its share', async () => {
    const key = await createApiKey();
    const model = uniqueModel('hot-prefix');
    await liveNode([engine('hold-1', model), engine('hold-2', model), engine('hold-3', model)]);
    const hot = () => chat(key, { model, messages: conversation('the hot topic', 1) });
    // One answered request puts the prefix in an engine's cache, and in the index.
    const first = hot();
    await vi.waitFor(async () => expect((await fakeNodeLoad(model)).current).toBe(1));
    await releaseHeld(model);
    const holder = (await servedBy(await first, /\/hold-\d$/)).split('/')[1];

    const burst = Array.from({ length: 9 }, hot);
    await vi.waitFor(async () => expect((await fakeNodeLoad(model)).current).toBe(9));
    const inflight = new Map((await poolSnapshot(model)).map((e) => [e.engineId, e.inflight]));
    // The holder takes the prefix up to its bound, ⌈1.25 × 9 / 3⌉ = 4; the rest spill over.
    expect(inflight.get(holder!)).toBe(4);
    expect(Math.max(...inflight.values())).toBe(4);
    await releaseHeld(model);
    for (const res of await Promise.all(burst)) expect(res.status).toBe(200);
    await vi.waitFor(async () =>
      expect((await poolSnapshot(model)).map((e) => e.inflight)).toEqual([0, 0, 0]),
    );
  });

  it('remembers a prefix only once an engine has answered it, and then sends it there', async () => {
    const pool = modelPool(env, uniqueModel('answered-prefix'));
    const poolEngine = (nodeId: string): PoolEngine => ({
      nodeId,
      engineId: 'e',
      url: `http://${nodeId}.test`,
      owner: 'operator',
      available: true,
      running: 0,
      waiting: 0,
      kvCacheUsage: 0,
      maxConcurrency: 8,
      reportedAt: Date.now(),
    });
    await pool.syncNode('n1', [poolEngine('n1')]);
    await pool.syncNode('n2', [poolEngine('n2')]);
    const prefixHashes = requestPrefixHashes({ messages: conversation('returns', 2) });
    let leases = 0;
    const pick = async () => {
      const picked = await pool.pick({ leaseId: `answered-${++leases}`, prefixHashes });
      if (!picked.ok) throw new Error(JSON.stringify(picked));
      return picked.lease;
    };
    // A failed request taught nothing: the engine may never have computed the prompt.
    const failed = await pick();
    await pool.release(failed.leaseId, 'failed');
    const answered = await pick();
    await pool.release(answered.leaseId, 'ok', { promptTokens: 600, cachedTokens: 0 });
    for (let i = 0; i < 6; i++) {
      const lease = await pick();
      expect(lease.engineKey).toBe(answered.engineKey);
      await pool.release(lease.leaseId, 'ok', { promptTokens: 600, cachedTokens: 560 });
    }
  });
});
