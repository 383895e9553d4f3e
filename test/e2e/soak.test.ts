/**
 * A bounded soak of the whole system as `npm start` runs it: a few hundred requests at
 * concurrency 16 — chat and embeddings, streamed and not — with random client aborts, engines
 * that fail a share of their requests (`--fail-rate`), and the chat engine killed halfway (its
 * agent starts it again). Nothing may hang or fail inside the gateway, and afterwards the books
 * balance: no lease left in any pool, no reservation left on the key, and the key's usage counts
 * exactly the calls the gateway admitted (read from its own rate window).
 *
 * Longer: SOAK_REQUESTS=5000 (SOAK_CONCURRENCY, SOAK_SEED too) npm run test:e2e -- soak
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descendantsOf, freePort } from '../../gpu-node/index.ts';
import { runGpuNode, writeConfig, type AgentProcess } from '../support/agent-process.ts';
import { startLocalSystem, type LocalSystem } from '../support/local-system.ts';
import { waitFor } from '../support/wait-for.ts';

const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 300);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 16);
const SEED = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);
/**
 * Streams whose client does not ask for usage (the gateway asks and strips the usage chunk)
 * hang now and then (relay-stream.ts, see the skipped test in fuzz-sse-relay.test.ts): off by
 * default until that is fixed, SOAK_STRIP_USAGE=1 mixes them in.
 */
const STRIP_USAGE = process.env.SOAK_STRIP_USAGE === '1';
/** The longest any one call may take before it counts as hung. */
const CALL_LIMIT_MS = 30_000;
/** Each key's calls fit in one rate window (60 s), so its admissions can be read back from it. */
const KEY_SEGMENT_MS = 30_000;
/** The rpm limit the soak keys carry: never reached, but it makes the gateway count admissions. */
const COUNTING_RPM = 1_000_000;

const CHAT = 'switchyard-sim-chat';
const EMBED = 'switchyard-sim-embed';
/** Served only by an engine that fails half its requests: clients see the engine's 500s. */
const FLAKY = 'soak-flaky';

let system: LocalSystem;
let adminToken: string;
let tenantId: string;
let faultyAgent: AgentProcess;

function admin(method: string, route: string, body?: unknown): Promise<Response> {
  return fetch(`${system.gatewayUrl}/admin/api${route}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function adminJson<T>(method: string, route: string, body?: unknown): Promise<T> {
  const res = await admin(method, route, body);
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

beforeAll(async () => {
  system = await startLocalSystem({
    NODE_UNHEALTHY_AFTER_MS: '3000',
    NODE_EVICT_AFTER_MS: '20000',
    USAGE_FLUSH_MS: '200',
  });
  const state = JSON.parse(fs.readFileSync(path.join(system.home, 'state.json'), 'utf8')) as {
    adminToken?: string;
  };
  adminToken = process.env.ADMIN_TOKEN ?? state.adminToken!;
  tenantId = (await adminJson<{ id: string }>('POST', '/tenants', { name: 'soak' })).id;

  // A second node whose engines fail on purpose: one beside the local chat engine, one alone.
  const { token } = await adminJson<{ token: string }>('POST', '/node-tokens', {
    name: 'soak-faulty',
    models: [CHAT, FLAKY],
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-soak-'));
  const agentPort = await freePort();
  const engine = async (id: string, model: string, failRate: string) => ({
    id,
    kind: 'sim',
    model,
    servedModelName: model,
    port: await freePort(),
    args: ['--fail-rate', failRate, '--seed', String(SEED)],
  });
  const faultyChat = await engine('soak-faulty-chat', CHAT, '0.2');
  const config = writeConfig(dir, {
    gateway: { url: system.gatewayUrl, nodeToken: token },
    node: {
      name: 'soak-faulty',
      listen: { host: '127.0.0.1', port: agentPort },
      publicUrl: `http://127.0.0.1:${agentPort}`,
    },
    heartbeatIntervalMs: 1000,
    drainTimeoutMs: 1000,
    logDir: path.join(dir, 'logs'),
    stateFile: path.join(dir, 'state.json'),
    engines: [faultyChat, await engine('soak-flaky', FLAKY, '0.5')],
  });
  faultyAgent = runGpuNode(['start', '--config', config, '--metrics-listen', 'off']);
  await waitFor(
    'the faulty node to serve both models',
    async () => {
      const [chat, flaky] = await Promise.all([poolEngines(CHAT), poolEngines(FLAKY)]);
      return chat.filter((e) => e.available).length === 2 && flaky.some((e) => e.available);
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}, 150_000);

afterAll(async () => {
  if (faultyAgent && faultyAgent.child.exitCode === null) {
    faultyAgent.child.kill('SIGTERM');
    await faultyAgent.exited;
  }
  if (system) await system.stop();
}, 60_000);

interface PoolEngine {
  engineId: string;
  inflight: number;
  available: boolean;
  /** As its agent last reported. */
  running: number;
}

async function poolEngines(model: string): Promise<PoolEngine[]> {
  const res = await admin('GET', `/pools/${encodeURIComponent(model)}`);
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`pool ${model}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { engines: PoolEngine[] }).engines;
}

/** mulberry32: the run is repeatable from its printed seed (the engines' fault draws use it too). */
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

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** The local agent's chat simulator (the faulty node's engines are this test's, not npm start's). */
function localChatEngine(): number | undefined {
  return system.processes().find((pid) => / sim .*--engine-id switchyard-sim-chat\b/.test(commandLine(pid)));
}

type Outcome =
  | { kind: 'answered'; status: number; source: string | null; code: string | null; cut: boolean }
  | { kind: 'aborted' }
  | { kind: 'hung'; what: string }
  | { kind: 'connection'; error: string };

interface Plan {
  path: string;
  body: Record<string, unknown>;
  stream: boolean;
  abortAfterMs: number | null;
}

function planCall(next: () => number, i: number): Plan {
  const roll = next();
  const stream = next() < 0.5;
  const abortAfterMs = next() < 0.25 ? 5 + Math.floor(next() * 300) : null;
  const maxTokens = 5 + Math.floor(next() * 56);
  const asksUsage = !STRIP_USAGE || next() < 0.5;
  if (roll < 0.1) {
    return {
      path: '/v1/embeddings',
      body: { model: EMBED, input: `soak ${i}` },
      stream: false,
      abortAfterMs,
    };
  }
  const model = roll < 0.3 ? FLAKY : CHAT;
  const messages = [{ role: 'user', content: `soak request ${i}` }];
  return {
    path: '/v1/chat/completions',
    body: {
      model,
      messages,
      max_tokens: maxTokens,
      stream,
      ...(stream && asksUsage ? { stream_options: { include_usage: true } } : {}),
    },
    stream,
    abortAfterMs,
  };
}

async function runCall(key: string, plan: Plan, i: number): Promise<Outcome> {
  const controller = new AbortController();
  let aborted = false;
  const abortTimer =
    plan.abortAfterMs === null
      ? null
      : setTimeout(() => {
          aborted = true;
          controller.abort();
        }, plan.abortAfterMs);
  const hangTimer = setTimeout(() => controller.abort(new Error('hung')), CALL_LIMIT_MS);
  try {
    const res = await fetch(`${system.gatewayUrl}${plan.path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'x-request-id': `soak-${SEED}-${i}`,
      },
      body: JSON.stringify(plan.body),
      signal: controller.signal,
    });
    const text = await res.text();
    const source = res.headers.get('x-switchyard-error-source');
    let code: string | null = null;
    if (res.status >= 400) {
      try {
        code = (JSON.parse(text) as { error?: { code?: string | null } }).error?.code ?? null;
      } catch {
        code = 'not-json';
      }
    }
    // A stream the engine broke off ends with an error event instead of [DONE].
    const cut = plan.stream && res.status === 200 && !text.includes('data: [DONE]');
    return { kind: 'answered', status: res.status, source, code, cut };
  } catch (error) {
    if (aborted) return { kind: 'aborted' };
    if (controller.signal.aborted) return { kind: 'hung', what: `${plan.path} ${JSON.stringify(plan.body)}` };
    return { kind: 'connection', error: String((error as Error).cause ?? error) };
  } finally {
    if (abortTimer) clearTimeout(abortTimer);
    clearTimeout(hangTimer);
  }
}

interface SoakKey {
  id: string;
  key: string;
  /** Calls of this key not answered yet. */
  pending: number;
  /** Admissions the gateway counted for this key (the counting call included), read from its rate window once its calls are over. */
  admitted?: Promise<number>;
}

async function newSoakKey(): Promise<SoakKey> {
  const { id, key } = await adminJson<{ id: string; key: string }>('POST', `/tenants/${tenantId}/keys`, {
    name: 'soak',
    limits: { rpm: COUNTING_RPM },
  });
  return { id, key, pending: 0 };
}

/** Reads a key's admissions once its last call is over. */
async function admissionsWhenIdle(key: SoakKey): Promise<number> {
  await waitFor(`the calls of key ${key.id} to end`, () => key.pending === 0, {
    timeoutMs: CALL_LIMIT_MS,
    intervalMs: 20,
  });
  return admissionsSoFar(key);
}

/** One more admitted call; the answer's x-ratelimit-remaining-requests says how many came before it. */
async function admissionsSoFar(key: SoakKey): Promise<number> {
  const res = await fetch(`${system.gatewayUrl}/v1/embeddings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: EMBED, input: 'count' }),
  });
  await res.text();
  const remaining = res.headers.get('x-ratelimit-remaining-requests');
  if (res.status !== 200 || remaining === null) {
    throw new Error(`counting call: ${res.status}, remaining ${remaining}`);
  }
  return COUNTING_RPM - Number(remaining);
}

async function usageRequests(keyId: string): Promise<number> {
  const { data } = await adminJson<{ data: Array<{ requests: number }> }>('GET', `/usage?keyId=${keyId}`);
  return data.reduce((sum, row) => sum + row.requests, 0);
}

describe('a soak with aborts, engine faults and an engine restart', () => {
  it(
    `keeps answering and balances every lease, reservation and usage count (${REQUESTS} requests)`,
    async () => {
      const next = random(SEED);
      const plans = Array.from({ length: REQUESTS }, (_, i) => planCall(next, i));
      const outcomes: Outcome[] = new Array(REQUESTS);
      const keys: SoakKey[] = [await newSoakKey()];
      let segmentStart = Date.now();
      const killedEngine = localChatEngine();
      expect(killedEngine, 'the local chat simulator').toBeDefined();
      let killedAt: number | null = null;
      /** How long after the kill the first chat call that started after it was answered 200. */
      let firstChatAfterKill: number | null = null;
      let issued = 0;
      const started = Date.now();

      const worker = async () => {
        while (issued < REQUESTS) {
          const i = issued++;
          if (i === Math.floor(REQUESTS / 3)) {
            process.kill(killedEngine!, 'SIGKILL');
            killedAt = Date.now();
          }
          if (Date.now() - segmentStart > KEY_SEGMENT_MS) {
            // A fresh key for the next segment; the old one's admissions are read while still in its window.
            segmentStart = Date.now();
            const done = keys.at(-1)!;
            keys.push(await newSoakKey());
            done.admitted = admissionsWhenIdle(done);
          }
          const key = keys.at(-1)!;
          key.pending++;
          const callStarted = Date.now();
          outcomes[i] = await runCall(key.key, plans[i]!, i);
          const o = outcomes[i]!;
          const chatOk = o.kind === 'answered' && o.status === 200 && plans[i]!.body.model === CHAT;
          if (chatOk && killedAt !== null && callStarted > killedAt)
            firstChatAfterKill ??= Date.now() - killedAt;
          key.pending--;
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      const soakMs = Date.now() - started;
      const last = keys.at(-1)!;
      last.admitted = admissionsWhenIdle(last);
      const admitted = await Promise.all(keys.map((key) => key.admitted!));

      // Nothing hung, nothing failed inside the gateway, every connection held.
      const hung = outcomes.filter((o) => o.kind === 'hung');
      const broken = outcomes.filter((o) => o.kind === 'connection');
      const answered = outcomes.filter(
        (o): o is Extract<Outcome, { kind: 'answered' }> => o.kind === 'answered',
      );
      const gatewayFailures = answered.filter(
        (o) =>
          o.status >= 500 &&
          o.source !== 'upstream' &&
          !['upstream_unreachable', 'no_available_engine', 'upstream_timeout', 'node_refused'].includes(
            o.code ?? '',
          ),
      );
      expect(hung).toEqual([]);
      expect(broken).toEqual([]);
      expect(gatewayFailures).toEqual([]);
      expect(answered.filter((o) => o.status >= 400 && o.status < 500)).toEqual([]);

      // The killed engine came back under its agent.
      expect(killedAt).not.toBeNull();
      await waitFor(
        'the agent to restart the killed chat engine',
        async () => {
          const now = localChatEngine();
          const pool = await poolEngines(CHAT);
          return now !== undefined && now !== killedEngine && pool.filter((e) => e.available).length === 2;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );

      // Once it is back, chat is answered again (its breaker may hold all but one probe call for
      // its cool-down, so the first success is what is waited for).
      const checkKey = await newSoakKey();
      let probes = 0;
      await waitFor(
        'a chat call to be answered again',
        async () => {
          const plan = { ...planCall(() => 0.5, REQUESTS + probes), abortAfterMs: null };
          const outcome = await runCall(checkKey.key, plan, REQUESTS + probes++);
          return outcome.kind === 'answered' && outcome.status === 200;
        },
        { timeoutMs: 90_000, intervalMs: 100 },
      );
      const recoveredAfterMs = firstChatAfterKill ?? Date.now() - killedAt!;

      // No lease is left in any pool.
      await waitFor(
        'every pool to have nothing in flight',
        async () => {
          const engines = (await Promise.all([CHAT, EMBED, FLAKY].map(poolEngines))).flat();
          const busy = engines.filter((e) => e.inflight !== 0);
          if (busy.length > 0) throw new Error(`in flight: ${JSON.stringify(busy)}`);
          return true;
        },
        { timeoutMs: 20_000, intervalMs: 200 },
      );

      for (const [k, key] of keys.entries()) {
        // No reservation is left on the key: with a concurrency of 1, one more call is admitted.
        await adminJson('PATCH', `/keys/${key.id}`, { limits: { rpm: COUNTING_RPM, concurrency: 1 } });
        const probe = await admissionsSoFar(key);
        if (k === keys.length - 1 && Date.now() - started < 55_000) {
          expect(probe, 'the concurrency probe is the next admission').toBe(admitted[k]! + 1);
        }
        // Usage counts every admitted call once: the soak's, the counting call and the probe.
        const calls = admitted[k]! + 1;
        await waitFor(
          `usage of key ${key.id} to count ${calls} calls`,
          async () => {
            const counted = await usageRequests(key.id);
            if (counted > calls) throw new Error(`usage counts ${counted} calls, ${calls} were admitted`);
            return counted === calls;
          },
          { timeoutMs: 20_000, intervalMs: 200 },
        );
      }

      // The gateway logged no bug: no unhandled error, no uncaught exception.
      const log = fs.readFileSync(path.join(system.home, 'logs', 'gateway.log'), 'utf8');
      expect(log.split('\n').filter((line) => /unhandled error|uncaught exception/i.test(line))).toEqual([]);

      const count = (kind: Outcome['kind']) => outcomes.filter((o) => o.kind === kind).length;
      const statuses: Record<string, number> = {};
      outcomes.forEach((o, i) => {
        if (o.kind !== 'answered') return;
        const label = `${String(plans[i]!.body.model)} ${o.status}${o.source ? `/${o.source}` : ''}${o.code ? ` ${o.code}` : ''}`;
        statuses[label] = (statuses[label] ?? 0) + 1;
      });
      console.log(
        `soak seed ${SEED}: ${REQUESTS} calls at concurrency ${CONCURRENCY} in ${soakMs} ms; ` +
          `answered ${answered.length} ${JSON.stringify(statuses)}, cut streams ${answered.filter((o) => o.cut).length}, ` +
          `aborted ${count('aborted')}; engine killed after ${killedAt! - started} ms, chat answered again ` +
          `${recoveredAfterMs} ms after the kill (${firstChatAfterKill === null ? `after the soak, ${probes} tries` : 'during the soak'}); ` +
          `admitted ${admitted.map((n) => n - 1).join('+')} on ${keys.length} key(s)`,
      );
    },
    Math.max(120_000, REQUESTS * 60),
  );

  it(
    'stops the engine and returns the lease within about 1 s of a streaming client leaving',
    { timeout: 60_000 },
    async () => {
      const tookMs = await abandonedCall(true);
      console.log(`a streaming client left: lease back and engine stopped ${tookMs} ms later`);
    },
  );

  // pending: on plain workerd a client that leaves before a non-stream answer starts is not
  // noticed (request.signal does not fire), so the engine generates to the end and the lease is held.
  it.skip(
    'stops the engine and returns the lease within 1 s of a non-stream client leaving',
    { timeout: 60_000 },
    async () => {
      await abandonedCall(false);
    },
  );
});

/** Requests the chat simulators are generating now, read from their own /metrics (with their keys). */
async function chatEnginesRunning(): Promise<number> {
  const pids = [...system.processes(), ...descendantsOf(faultyAgent.child.pid!)];
  let running = 0;
  for (const pid of pids) {
    const command = commandLine(pid);
    if (!/ sim .*--served-model-name switchyard-sim-chat\b/.test(command)) continue;
    const port = /--port (\d+)/.exec(command)![1];
    const key = fs
      .readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .find((entry) => entry.startsWith('VLLM_API_KEY='))
      ?.slice('VLLM_API_KEY='.length);
    const metrics = await (
      await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${key}` } })
    ).text();
    running += Number(/^vllm:num_requests_running\{[^}]*\} (\S+)$/m.exec(metrics)?.[1] ?? NaN);
  }
  return running;
}

/**
 * Starts a six-second generation, leaves once the engine is generating (for a stream, once its
 * first chunk arrived), and says how long after leaving the engine stopped; fails when the lease
 * is not back in the pool within 1 s, or the engine has not stopped within 1.5 s.
 */
async function abandonedCall(stream: boolean): Promise<number> {
  const inflight = async () => (await poolEngines(CHAT)).reduce((sum, e) => sum + e.inflight, 0);
  await waitFor(
    'the chat engines to be idle',
    async () => (await chatEnginesRunning()) === 0 && (await inflight()) === 0,
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  const key = await newSoakKey();
  const controller = new AbortController();
  const call = fetch(`${system.gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
    // 600 tokens at 10 ms each: six seconds of generation.
    body: JSON.stringify({
      model: CHAT,
      messages: [{ role: 'user', content: 'long' }],
      max_tokens: 600,
      stream,
    }),
    signal: controller.signal,
  });
  if (stream) await (await call).body!.getReader().read();
  await waitFor('the engine to be generating', async () => (await chatEnginesRunning()) === 1, {
    timeoutMs: 5_000,
    intervalMs: 20,
  });
  controller.abort();
  await call.catch(() => null);
  const left = Date.now();
  await waitFor('the lease to return', async () => (await inflight()) === 0, {
    timeoutMs: 1_000,
    intervalMs: 20,
  });
  await waitFor('the engine to stop', async () => (await chatEnginesRunning()) === 0, {
    timeoutMs: 1_500,
    intervalMs: 20,
  });
  return Date.now() - left;
}
