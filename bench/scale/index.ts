/**
 * How the Durable Objects grow, measured on the real classes on plain workerd (the gateway's
 * bundle with its objects counted, bench/scale/instrumented.ts), through the gateway's own APIs
 * where they measure the same thing:
 *
 * - the registry: 110 and then 1,110 simulated nodes registered through POST /nodes/register
 *   and heartbeating through POST /nodes/heartbeat (each heartbeat also reaches the node's pool);
 * - ModelPool `pick` (with its `release`) in pools of 10, 100 and 1,000 engines — engines those
 *   registrations put there — inside the object (its own work), over RPC one at a time
 *   (latency), and with 16 in flight (throughput);
 * - session affinity at 100k sessions: the pool's SQLite, workerd's memory, pick time as the
 *   table grows, and the in-memory prefix index for the same traffic;
 * - a key's admission (`admitRequest` + `settleRequests`, every limit set), idle and with 1,000
 *   requests in flight.
 *
 *   npm run bench:scale [-- --seconds 3 --sessions 100000 --objects-dir /dev/shm]
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parseCredential } from '../../src/credentials.ts';
import { PrefixIndex } from '../../src/routing/prefix-index.ts';
import { drawBarCharts } from '../overhead/chart.ts';
import { Harness, cpuSeconds, describeLoad, describeMachine, root, rssMiB } from '../overhead/harness.ts';
import { histogram, ms, type Histogram } from '../overhead/load.ts';
import { fixed, printTable } from '../overhead/table.ts';
import {
  benchAnswer,
  benchCall,
  startInstrumentedGateway,
  type InstrumentedGateway,
} from './instrumented-gateway.ts';
import { pickRequest } from './instrumented.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    sessions: { type: 'string', default: '100000' },
    chart: { type: 'string', default: 'docs/performance-scale.png' },
    /** Where the objects keep their SQLite: `/dev/shm` takes the disk's sync out of the figures. */
    'objects-dir': { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const sessions = Number(values.sessions);
const POOL_SIZES = [10, 100, 1000];
/** The gateway's default heartbeat interval: what a real fleet sends. */
const HEARTBEAT_INTERVAL_S = 5;
/** Cloudflare's soft limit on one object (https://developers.cloudflare.com/durable-objects/platform/limits/). */
const SOFT_LIMIT = 1000;
const SESSION_CHUNK = 2000;

const h = new Harness('scale');

interface Node {
  model: string;
  nodeId: string;
  credential: string;
  index: number;
}

function engineReport(model: string, index: number) {
  return [
    {
      id: 'engine-0',
      kind: 'sim',
      model,
      state: 'ready',
      load: { running: index % 8, waiting: 0, kvCacheUsage: 0.2 },
      maxConcurrency: 256,
      restarts: 0,
      lastLogLines: [],
    },
  ];
}

function gpus(index: number) {
  return [
    {
      index: 0,
      uuid: `GPU-bench-${index}`,
      name: 'bench',
      memoryUsedMiB: 1000,
      memoryTotalMiB: 81920,
      utilizationPct: 50,
      temperatureC: 60,
    },
  ];
}

async function post(url: string, token: string, body: unknown): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

/** `count` nodes of `model`, 16 registrations in flight; returns them and the registrations per second. */
async function registerNodes(
  gateway: InstrumentedGateway,
  model: string,
  count: number,
  first: number,
): Promise<{ nodes: Node[]; perSecond: number }> {
  const nodes: Node[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        const index = first + next++;
        const answer = await post(`${gateway.url}/nodes/register`, gateway.nodeToken, {
          name: `bench-node-${index}`,
          url: 'http://127.0.0.1:9',
          agentVersion: 'bench',
          engines: engineReport(model, index),
          gpus: gpus(index),
        });
        if (answer.status !== 201)
          throw new Error(`register: HTTP ${answer.status} ${answer.text.slice(0, 300)}`);
        const { nodeId, credential } = JSON.parse(answer.text) as { nodeId: string; credential: string };
        nodes.push({ model, nodeId, credential, index });
      }
    }),
  );
  return { nodes, perSecond: count / ((performance.now() - started) / 1000) };
}

async function heartbeat(gateway: InstrumentedGateway, node: Node, latency: Histogram): Promise<void> {
  const started = performance.now();
  const answer = await post(`${gateway.url}/nodes/heartbeat`, node.credential, {
    engines: engineReport(node.model, node.index),
    gpus: gpus(node.index),
  });
  latency.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
  if (answer.status !== 200) throw new Error(`heartbeat: HTTP ${answer.status} ${answer.text.slice(0, 300)}`);
}

interface HeartbeatRun {
  nodes: number;
  perSecond: number;
  latency: Histogram;
  cpuUsPerHeartbeat: number;
  /** workerd's CPU use over the run, as a share of one core. */
  cpuShare: number;
  counters: Awaited<ReturnType<InstrumentedGateway['counters']>>;
  heartbeats: number;
}

/**
 * Heartbeats from every node in turn: as fast as 16 in flight go (`rate` null), or paced at
 * `rate` per second (each sent on schedule, whether or not earlier ones have been answered).
 */
async function heartbeats(
  gateway: InstrumentedGateway,
  nodes: Node[],
  rate: number | null,
): Promise<HeartbeatRun> {
  const latency = histogram();
  const pid = gateway.child.process.pid!;
  await gateway.counters(true);
  const cpuBefore = cpuSeconds(pid);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let sent = 0;
  if (rate === null) {
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (performance.now() < deadline) await heartbeat(gateway, nodes[sent++ % nodes.length]!, latency);
      }),
    );
  } else {
    const inFlight: Array<Promise<void>> = [];
    while (performance.now() < deadline) {
      const due = started + (sent * 1000) / rate;
      if (due > performance.now()) await sleep(due - performance.now());
      inFlight.push(heartbeat(gateway, nodes[sent++ % nodes.length]!, latency));
    }
    await Promise.all(inFlight);
  }
  const elapsed = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(pid) - cpuBefore;
  return {
    nodes: nodes.length,
    perSecond: latency.totalCount / elapsed,
    latency,
    cpuUsPerHeartbeat: (cpu * 1e6) / latency.totalCount,
    cpuShare: cpu / elapsed,
    counters: await gateway.counters(true),
    heartbeats: latency.totalCount,
  };
}

/** Mean wall time of a no-op bench call: what every timed call's HTTP round trip costs. */
async function noopMs(url: string): Promise<number> {
  const times = [];
  for (let i = 0; i < 10; i++) times.push(await benchCall(url, 'noop', {}));
  return times.sort((a, b) => a - b)[5]!;
}

/** Runs a bench loop sized to take about `targetMs`; returns µs per iteration and the iterations. */
async function timedLoop(
  url: string,
  route: string,
  body: (n: number) => unknown,
  overheadMs: number,
  targetMs = 1000,
): Promise<{ n: number; us: number; ms: number }> {
  const probe = 100;
  const probeMs = Math.max(0.05, (await benchCall(url, route, body(probe))) - overheadMs);
  const n = Math.max(probe, Math.min(200_000, Math.round((targetMs / probeMs) * probe)));
  const elapsed = (await benchCall(url, route, body(n))) - overheadMs;
  return { n, us: (elapsed * 1000) / n, ms: elapsed };
}

interface RpcCost {
  write: boolean;
  wallUs: number;
  cpuUs: number;
}

/** One RPC to a pool, one at a time: one that only reads, one that writes a row (and so commits). */
async function measureRpcCost(gateway: InstrumentedGateway, overheadMs: number): Promise<RpcCost[]> {
  const pid = gateway.child.process.pid!;
  const costs: RpcCost[] = [];
  for (const write of [false, true]) {
    const cpuBefore = cpuSeconds(pid);
    const loop = await timedLoop(
      gateway.url,
      'rpc-cost',
      (n) => ({ model: 'calibration', n, write }),
      overheadMs,
    );
    const cpu = cpuSeconds(pid) - cpuBefore;
    costs.push({ write, wallUs: loop.us, cpuUs: (cpu * 1e6) / (loop.n + 100) });
  }
  return costs;
}

interface PickFigures {
  engines: number;
  insideUs: number;
  rpcUs: number;
  rpc16PerSecond: number;
  cpuUsPerPick: number;
  rowsWritten: number;
  rowsRead: number;
}

async function measurePicks(
  gateway: InstrumentedGateway,
  engines: number,
  overheadMs: number,
): Promise<PickFigures> {
  const model = `scale-${engines}`;
  const loop = { sessions: 1000, offset: 0, unique: false };
  await benchCall(gateway.url, 'pool/inside', { model, n: 200, ...loop }); // the object is loaded
  await gateway.counters(true);
  const inside = await timedLoop(gateway.url, 'pool/inside', (n) => ({ model, n, ...loop }), overheadMs);
  const rows = (await gateway.counters(true)).rows.bench ?? { read: 0, written: 0, alarms: 0 };
  const pid = gateway.child.process.pid!;
  const cpuBefore = cpuSeconds(pid);
  const rpc = await timedLoop(
    gateway.url,
    'pool/rpc',
    (n) => ({ model, n, concurrency: 1, ...loop }),
    overheadMs,
  );
  const rpcCpu = cpuSeconds(pid) - cpuBefore;
  const rpc16 = await timedLoop(
    gateway.url,
    'pool/rpc',
    (n) => ({ model, n, concurrency: 16, ...loop }),
    overheadMs,
  );
  const totalIterations = inside.n + 100; // the probe of timedLoop ran too
  return {
    engines,
    insideUs: inside.us,
    rpcUs: rpc.us,
    rpc16PerSecond: 1e6 / rpc16.us,
    cpuUsPerPick: (rpcCpu * 1e6) / (rpc.n + 100),
    rowsWritten: (rows.written + rows.alarms) / totalIterations,
    rowsRead: rows.read / totalIterations,
  };
}

async function poolStorage(url: string, model: string): Promise<{ bytes: number; sessions: number }> {
  return (await benchAnswer(url, 'pool/storage', { model })).answer as { bytes: number; sessions: number };
}

interface SessionFigures {
  sessions: number;
  /** Rows in the pool's session table at the end (it is trimmed to the newest 100k). */
  sessionRows: number;
  chunkUs: number[];
  sqliteBytes: number;
  rssBefore: number;
  rssAfter: number;
  indexHashes: number;
  indexHeapMiB: number;
  sessionMapHeapMiB: number;
}

/** Distinct sessions, SESSION_CHUNK picks per call, into the 10-engine pool. */
async function measureSessions(gateway: InstrumentedGateway, overheadMs: number): Promise<SessionFigures> {
  const model = 'scale-10';
  const pid = gateway.child.process.pid!;
  const storageBefore = await poolStorage(gateway.url, model);
  const rssBefore = rssMiB(pid);
  const chunkUs: number[] = [];
  for (let offset = 0; offset < sessions; offset += SESSION_CHUNK) {
    const n = Math.min(SESSION_CHUNK, sessions - offset);
    const elapsed = await benchCall(gateway.url, 'pool/inside', {
      model,
      n,
      sessions: 1,
      offset: 1_000_000 + offset,
      unique: true,
    });
    chunkUs.push(((elapsed - overheadMs) * 1000) / n);
    if (chunkUs.length % 10 === 0)
      h.progress(`  ${offset + n} sessions, ${chunkUs.at(-1)!.toFixed(1)} µs per pick`);
  }
  const storageAfter = await poolStorage(gateway.url, model);
  return {
    sessions,
    sessionRows: storageAfter.sessions,
    chunkUs,
    sqliteBytes: storageAfter.bytes - storageBefore.bytes,
    rssBefore,
    rssAfter: rssMiB(pid),
    ...prefixIndexMemory(),
  };
}

/**
 * The same traffic's prefix index and a plain in-memory session map, in this process: what
 * they would hold in an object's heap (the index is in the pool's memory; sessions are in its
 * SQLite today).
 */
function prefixIndexMemory(): { indexHashes: number; indexHeapMiB: number; sessionMapHeapMiB: number } {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const heap = () => {
    gc();
    gc();
    return v8.getHeapStatistics().used_heap_size / 2 ** 20;
  };
  const engines = Array.from({ length: 10 }, (_, i) => `node-${i}/engine-0`);
  const held: { index?: PrefixIndex; map?: Map<string, string> } = {};
  const before = heap();
  held.index = new PrefixIndex();
  for (let i = 0; i < sessions; i++) {
    const { prefixHashes } = pickRequest(i, { sessions: 1, offset: 1_000_000, unique: true });
    held.index.record(engines[i % engines.length]!, prefixHashes);
  }
  const withIndex = heap();
  held.map = new Map<string, string>();
  for (let i = 0; i < sessions; i++) {
    held.map.set(`tenant_0123456789:session:${1_000_000 + i}`, engines[i % engines.length]!);
  }
  const withMap = heap();
  // Both are still referenced here, so neither was collected while it was measured.
  return {
    indexHashes: held.map.size > 0 ? held.index.size() : 0,
    indexHeapMiB: withIndex - before,
    sessionMapHeapMiB: withMap - withIndex,
  };
}

interface KeyFigures {
  /** The key's limits: every one set, or none (the demo key). */
  limits: 'all' | 'none';
  inFlight: number;
  insideUs: number;
  rpcUs: number;
  rpc16PerSecond: number;
  cpuUsPerAdmission: number;
  rowsWritten: number;
}

/** admitRequest + settleRequests inside the object, the key without limits and the one with all, alternating; the best of 3 each. */
async function measureLimitsCost(
  gateway: InstrumentedGateway,
  none: { keyId: string; secret: string },
  all: { keyId: string; secret: string },
  overheadMs: number,
): Promise<{ noneUs: number; allUs: number }> {
  const n = 3000;
  const best = { noneUs: Infinity, allUs: Infinity };
  for (let round = 0; round < 4; round++) {
    for (const [which, key] of [
      ['noneUs', none],
      ['allUs', all],
    ] as const) {
      const elapsed = await benchCall(gateway.url, 'key/inside', { ...key, model: 'scale-10', n });
      // The first round only warms both keys' objects and code up.
      if (round > 0) best[which] = Math.min(best[which], ((elapsed - overheadMs) * 1000) / n);
    }
  }
  return best;
}

async function measureKey(
  gateway: InstrumentedGateway,
  key: { keyId: string; secret: string; limits: 'all' | 'none' },
  inFlight: number,
  overheadMs: number,
): Promise<KeyFigures> {
  const base = { keyId: key.keyId, secret: key.secret, model: 'scale-10' };
  if (inFlight > 0) await benchCall(gateway.url, 'key/hold', { ...base, n: inFlight });
  await benchCall(gateway.url, 'key/inside', { ...base, n: 100 });
  await gateway.counters(true);
  const inside = await timedLoop(gateway.url, 'key/inside', (n) => ({ ...base, n }), overheadMs);
  const rows = (await gateway.counters(true)).rows.bench ?? { read: 0, written: 0, alarms: 0 };
  const pid = gateway.child.process.pid!;
  const cpuBefore = cpuSeconds(pid);
  const rpc = await timedLoop(gateway.url, 'key/rpc', (n) => ({ ...base, n, concurrency: 1 }), overheadMs);
  const cpu = cpuSeconds(pid) - cpuBefore;
  const rpc16 = await timedLoop(gateway.url, 'key/rpc', (n) => ({ ...base, n, concurrency: 16 }), overheadMs);
  if (inFlight > 0) await benchCall(gateway.url, 'key/release', base);
  return {
    limits: key.limits,
    inFlight,
    insideUs: inside.us,
    rpcUs: rpc.us,
    rpc16PerSecond: 1e6 / rpc16.us,
    cpuUsPerAdmission: (cpu * 1e6) / (rpc.n + 100),
    rowsWritten: (rows.written + rows.alarms) / (inside.n + 100),
  };
}

async function main(): Promise<void> {
  h.progress(`folder ${h.dir}; bundling the instrumented gateway and starting it on plain workerd`);
  // Nodes here send heartbeats only when measured: nothing may go unhealthy or stale meanwhile.
  const gateway = await startInstrumentedGateway(h, 'gateway', {
    vars: {
      HEARTBEAT_INTERVAL_MS: '300000',
      NODE_UNHEALTHY_AFTER_MS: '3600000',
      NODE_EVICT_AFTER_MS: '7200000',
    },
    objectsParent: values['objects-dir'],
  });
  const overheadMs = await noopMs(gateway.url);
  h.progress('the cost of one Durable Object RPC, with and without a write');
  const rpcCosts = await measureRpcCost(gateway, overheadMs);

  h.progress('registering 10 + 100 nodes (pools of 10 and 100 engines)');
  const small = await registerNodes(gateway, 'scale-10', 10, 0);
  const medium = await registerNodes(gateway, 'scale-100', 100, 10);
  const firstNodes = [...small.nodes, ...medium.nodes];
  h.progress('heartbeats from 110 nodes, as fast as they go');
  const saturated110 = await heartbeats(gateway, firstNodes, null);
  h.progress('registering 1,000 more nodes (a pool of 1,000 engines)');
  const large = await registerNodes(gateway, 'scale-1000', 1000, 110);
  const allNodes = [...firstNodes, ...large.nodes];
  const paced = allNodes.length / HEARTBEAT_INTERVAL_S;
  h.progress(`heartbeats from ${allNodes.length} nodes at the fleet's own rate (${paced.toFixed(0)}/s)`);
  const paced1110 = await heartbeats(gateway, allNodes, paced);
  h.progress(`heartbeats from ${allNodes.length} nodes, as fast as they go`);
  const saturated1110 = await heartbeats(gateway, allNodes, null);
  const registryRss = rssMiB(gateway.child.process.pid!);

  const picks: PickFigures[] = [];
  for (const engines of POOL_SIZES) {
    h.progress(`pick in a pool of ${engines} engines`);
    picks.push(await measurePicks(gateway, engines, overheadMs));
  }

  h.progress(`${sessions} distinct sessions into the 10-engine pool`);
  const sessionFigures = await measureSessions(gateway, overheadMs);

  const keyOf = (presented: string, limits: 'all' | 'none') => {
    const credential = parseCredential(presented);
    if (credential?.kind !== 'apiKey') throw new Error('a seeded key does not parse');
    return { keyId: credential.id, secret: credential.secret, limits };
  };
  h.progress("what checking a key's limits costs inside its object (alternating keys)");
  const limitsCost = await measureLimitsCost(
    gateway,
    keyOf(gateway.apiKey, 'none'),
    keyOf(gateway.limitedKey, 'all'),
    overheadMs,
  );
  const keys: KeyFigures[] = [];
  for (const [key, inFlight] of [
    [keyOf(gateway.apiKey, 'none'), 0],
    [keyOf(gateway.limitedKey, 'all'), 0],
    [keyOf(gateway.limitedKey, 'all'), 1000],
  ] as const) {
    h.progress(
      `a key's admission, ${key.limits === 'all' ? 'every limit set' : 'no limits'}, ${inFlight} in flight`,
    );
    keys.push(await measureKey(gateway, key, inFlight, overheadMs));
  }
  await h.stopAll();

  console.log(
    `\nMachine: ${describeMachine()}; ${describeLoad(h)}. workerd runs the Worker and every object on one thread.`,
  );
  printRpcCosts(rpcCosts);
  printRegistry(
    [small, medium, large].map((r) => r.perSecond),
    [saturated110, paced1110, saturated1110],
    registryRss,
  );
  printPicks(picks);
  printSessions(sessionFigures);
  printKeys(keys, limitsCost);
  printLimits(picks, saturated1110, keys);
  const chartPath = path.resolve(root, values.chart);
  fs.writeFileSync(chartPath, drawChart(picks, [saturated110, saturated1110], keys));
  console.log(
    `\nChart: ${path.relative(root, chartPath)}. The run took ${((performance.now() - h.started) / 1000).toFixed(0)} s.`,
  );
}

function printRpcCosts(costs: RpcCost[]): void {
  const [read, write] = costs;
  console.log(
    `\nOne Durable Object RPC from the Worker, one at a time (plain workerd, SQLite in ${values['objects-dir'] ?? 'the run folder (disk)'}): ${read!.wallUs.toFixed(0)} µs and ${read!.cpuUs.toFixed(0)} µs of workerd CPU when the call only reads; ${write!.wallUs.toFixed(0)} µs and ${write!.cpuUs.toFixed(0)} µs when it writes one row (each call is its own transaction, committed before its answer is released)`,
  );
}

function callsPer(run: HeartbeatRun): string {
  return (
    Object.entries(run.counters.calls)
      // Alarms, and an object's constructor work (not a call), are background.
      .filter(([method, n]) => !method.endsWith('.alarm') && n / run.heartbeats >= 0.01)
      .map(([method, n]) => `${method} ${(n / run.heartbeats).toFixed(2)}`)
      .join(', ')
  );
}

function rowsPer(run: HeartbeatRun): string {
  const written = Object.values(run.counters.rows).reduce((sum, r) => sum + r.written + r.alarms, 0);
  return (written / run.heartbeats).toFixed(2);
}

function printRegistry(registrations: number[], runs: HeartbeatRun[], rss: number): void {
  console.log(
    `\nRegistrations (POST /nodes/register, 16 in flight): ${registrations.map((r) => r.toFixed(0)).join(' / ')} per second for the first 10 / next 100 / next 1,000 nodes`,
  );
  printTable(
    'Registry: heartbeats through POST /nodes/heartbeat (auth, zod, NodeRegistry.heartbeat, then the pool of the node’s model)',
    [
      'nodes',
      'sent',
      'heartbeats/s',
      'p50 ms',
      'p99 ms',
      'workerd CPU µs/hb',
      'workerd CPU',
      'calls per heartbeat',
      'rows written/hb',
    ],
    runs.map((run, i) => [
      String(run.nodes),
      i === 1 ? `paced, ${(run.nodes / HEARTBEAT_INTERVAL_S).toFixed(0)}/s` : '16 in flight',
      fixed(0)(run.perSecond),
      fixed(2)(ms(run.latency, 50)),
      fixed(2)(ms(run.latency, 99)),
      fixed(0)(run.cpuUsPerHeartbeat),
      `${(run.cpuShare * 100).toFixed(0)}% of a core`,
      callsPer(run),
      rowsPer(run),
    ]),
  );
  console.log(`  workerd resident memory with ${runs.at(-1)!.nodes} nodes registered: ${rss.toFixed(0)} MiB`);
}

function printPicks(picks: PickFigures[]): void {
  printTable(
    'ModelPool: pick + release of one lease (affinity policy, a session and 8 prefix blocks per request)',
    [
      'engines',
      'inside the object µs',
      'ceiling picks/s',
      'over RPC µs (1 at a time)',
      'picks/s (16 in flight)',
      'workerd CPU µs/pick',
      'rows read',
      'rows written',
    ],
    picks.map((p) => [
      String(p.engines),
      fixed(1)(p.insideUs),
      fixed(0)(1e6 / p.insideUs),
      fixed(1)(p.rpcUs),
      fixed(0)(p.rpc16PerSecond),
      fixed(0)(p.cpuUsPerPick),
      fixed(2)(p.rowsRead),
      fixed(2)(p.rowsWritten),
    ]),
  );
  const [a, , c] = picks;
  console.log(
    `  from ${a!.engines} to ${c!.engines} engines, a pick inside the object goes from ${a!.insideUs.toFixed(0)} to ${c!.insideUs.toFixed(0)} µs (${(c!.insideUs / a!.insideUs).toFixed(1)}×): linear in the engines (every pick scores every engine)`,
  );
}

function printSessions(s: SessionFigures): void {
  const sorted = [...s.chunkUs].sort((a, b) => a - b);
  const first = s.chunkUs.slice(0, 5).reduce((sum, v) => sum + v, 0) / Math.min(5, s.chunkUs.length);
  const last = s.chunkUs.slice(-5).reduce((sum, v) => sum + v, 0) / Math.min(5, s.chunkUs.length);
  const worst = Math.max(...s.chunkUs);
  console.log(
    `\nSession affinity: ${s.sessions.toLocaleString('en')} distinct sessions into a pool of 10 engines`,
  );
  console.log(
    `  pick + release inside the object: ${first.toFixed(1)} µs with an empty table, ${last.toFixed(1)} µs at ${s.sessions.toLocaleString('en')} sessions; median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} µs, worst ${SESSION_CHUNK}-pick call ${worst.toFixed(1)} µs per pick (the table is trimmed to 100k every 10k new sessions)`,
  );
  console.log(
    `  the pool's SQLite grew by ${(s.sqliteBytes / 2 ** 20).toFixed(1)} MiB (${(s.sqliteBytes / s.sessions).toFixed(0)} bytes per session; ${s.sessionRows.toLocaleString('en')} rows in its session table); workerd's resident memory ${s.rssBefore.toFixed(0)} → ${s.rssAfter.toFixed(0)} MiB`,
  );
  console.log(
    `  the prefix index for the same traffic (src/routing/prefix-index.ts, 8 blocks per request, 10 engines): ${s.indexHashes.toLocaleString('en')} hashes kept (bounded), ${s.indexHeapMiB.toFixed(1)} MiB of heap; a Map of ${s.sessions.toLocaleString('en')} sessions in memory instead of SQLite: ${s.sessionMapHeapMiB.toFixed(1)} MiB`,
  );
}

function printKeys(keys: KeyFigures[], limitsCost: { noneUs: number; allUs: number }): void {
  printTable(
    "ApiKey: admitRequest + settleRequests of one request, the key's own object",
    [
      'limits',
      'in flight',
      'inside the object µs',
      'ceiling requests/s',
      'over RPC µs (1 at a time)',
      'requests/s (16 in flight)',
      'workerd CPU µs',
      'rows written',
    ],
    keys.map((k) => [
      k.limits === 'all' ? 'every limit' : 'none',
      String(k.inFlight),
      fixed(1)(k.insideUs),
      fixed(0)(1e6 / k.insideUs),
      fixed(1)(k.rpcUs),
      fixed(0)(k.rpc16PerSecond),
      fixed(0)(k.cpuUsPerAdmission),
      fixed(2)(k.rowsWritten),
    ]),
  );
  console.log(
    `  checking every limit (rpm, tpm, concurrency, day and month quotas) inside the key's object: ${limitsCost.noneUs.toFixed(1)} µs per admitted and settled request without limits, ${limitsCost.allUs.toFixed(1)} µs with every limit (${(limitsCost.allUs - limitsCost.noneUs).toFixed(1)} µs; best of 3 alternating runs of 3,000 each)`,
  );
}

/** Where one object stops being enough: the soft limit on requests, and the measured ceiling of its own work. */
function printLimits(picks: PickFigures[], registry: HeartbeatRun, keys: KeyFigures[]): void {
  const rows: string[][] = [];
  for (const p of picks) {
    const heartbeatsPerSecond = p.engines / HEARTBEAT_INTERVAL_S;
    // Each forwarded request is two calls to its pool (pick, release); heartbeats of its nodes come on top.
    const bySoftLimit = (SOFT_LIMIT - heartbeatsPerSecond) / 2;
    const byWork = 1e6 / p.insideUs;
    rows.push([
      `ModelPool, ${p.engines} engines`,
      `2 per request + ${heartbeatsPerSecond.toFixed(0)}/s heartbeats`,
      fixed(0)(bySoftLimit),
      fixed(0)(byWork),
      fixed(0)(Math.min(bySoftLimit, byWork)),
    ]);
  }
  const registryCeiling = registry.perSecond / registry.cpuShare;
  rows.push([
    'NodeRegistry (one for all nodes)',
    `1 per heartbeat (every ${HEARTBEAT_INTERVAL_S} s)`,
    `${(SOFT_LIMIT * HEARTBEAT_INTERVAL_S).toLocaleString('en')} nodes`,
    `${Math.round(registryCeiling * HEARTBEAT_INTERVAL_S).toLocaleString('en')} nodes`,
    `${Math.round(Math.min(SOFT_LIMIT, registryCeiling) * HEARTBEAT_INTERVAL_S).toLocaleString('en')} nodes`,
  ]);
  for (const k of keys.filter((k) => k.limits === 'all')) {
    rows.push([
      `ApiKey, ${k.inFlight} in flight`,
      '2 per request (admit, settle)',
      fixed(0)(SOFT_LIMIT / 2),
      fixed(0)(1e6 / k.insideUs),
      fixed(0)(Math.min(SOFT_LIMIT / 2, 1e6 / k.insideUs)),
    ]);
  }
  printTable(
    `Where one object is no longer enough (soft limit ~${SOFT_LIMIT} requests/s per object; "by its own work": one core doing nothing but this object's work, from the in-object time — for the registry, from workerd's whole CPU per heartbeat: Worker, registry and pool)`,
    ['object', 'calls it takes', 'requests/s by the soft limit', 'by its own work', 'limit'],
    rows,
  );
}

function drawChart(picks: PickFigures[], registry: HeartbeatRun[], keys: KeyFigures[]): Buffer {
  const engines = picks.map((p) => String(p.engines));
  return drawBarCharts([
    {
      title: 'pick + release, us (log)',
      groups: engines,
      xLabel: 'engines in the pool',
      log: true,
      values: new Map([
        ['inside the object', picks.map((p) => p.insideUs)],
        ['over rpc', picks.map((p) => p.rpcUs)],
      ]),
    },
    {
      title: 'picks/s, 16 in flight',
      groups: engines,
      xLabel: 'engines in the pool',
      values: new Map([['over rpc', picks.map((p) => p.rpc16PerSecond)]]),
    },
    {
      title: 'heartbeat latency, ms',
      groups: registry.map((r) => String(r.nodes)),
      xLabel: 'nodes registered (16 in flight)',
      values: new Map([
        ['p50', registry.map((r) => ms(r.latency, 50))],
        ['p99', registry.map((r) => ms(r.latency, 99))],
      ]),
    },
    {
      title: 'key admissions/s',
      groups: keys.map((k) => `${k.limits === 'all' ? 'all' : 'none'}/${k.inFlight}`),
      xLabel: 'limits set / requests in flight',
      log: true,
      values: new Map([
        ['inside the object', keys.map((k) => 1e6 / k.insideUs)],
        ['over rpc', keys.map((k) => k.rpc16PerSecond)],
      ]),
    },
  ]);
}

await h.run(main, { watchdogMs: 600_000 + 20 * seconds * 1000 });
