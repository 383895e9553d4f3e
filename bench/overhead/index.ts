/**
 * What Switchyard costs on the request path, measured in one run against the same engine:
 *
 *   direct      client → engine simulator
 *   bare        client → a minimal Worker that only forwards, on the same plain workerd → engine
 *   switchyard  client → the gateway as `npm start` serves it (API key with every limit set,
 *               admission, the pool's lease) → node agent → engine
 *   peer        client → Portkey's open-source gateway → engine
 *
 * Throughput and latency with autocannon (every response time in an HDR histogram), non-stream
 * and streamed chat at each connection count, alternating the systems round after round; time
 * to first byte and the delay each chunk picks up on the way, against a paced engine behind a
 * tap that notes when each chunk left it; what admission adds; what the agent's proxy adds and
 * its memory; Durable Object calls and SQLite rows per request (an instrumented bundle) turned
 * into a Cloudflare cost per million requests; the bundle's size and a cold start. Prints the
 * tables and writes the chart.
 *
 *  npm run bench:overhead [-- --seconds 3 --rounds 2 --warmup 1.5 --connections 1,16,64 --objects-dir /dev/shm]
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startInstrumentedGateway } from '../scale/instrumented-gateway.ts';
import type { Counters } from '../scale/instrumented.ts';
import { bundleSize, kib, type BundleSize } from './bundle-size.ts';
import { drawBarCharts } from './chart.ts';
import { Harness, cpuSeconds, describeLoad, describeMachine, root, rssMiB } from './harness.ts';
import {
  closedLoop,
  histogram,
  ms,
  streamProbe,
  type Endpoint,
  type LoadFigures,
  type StreamFigures,
} from './load.ts';
import {
  INSTANT_BODIES,
  MAX_BATCH,
  MODEL,
  PACED_MODEL,
  PACED_MS_PER_TOKEN,
  TOKENS,
  buildAgent,
  bundleGateway,
  chatBody,
  restartGateway,
  startAgent,
  startBareProxy,
  startEngines,
  startGateway,
  startPeer,
  type Agent,
  type Engines,
  type Gateway,
} from './systems.ts';
import { fixed, printTable, spread, times } from './table.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1.5' },
    connections: { type: 'string', default: '1,16,64' },
    chart: { type: 'string', default: 'docs/performance-overhead.png' },
    /** Where the gateway's objects keep their SQLite: `/dev/shm` takes the disk's sync out of the figures. */
    'objects-dir': { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const warmupSeconds = Number(values.warmup);
const levels = values.connections.split(',').map(Number);

type System = 'direct' | 'bare' | 'switchyard' | 'peer';
const SYSTEMS: System[] = ['direct', 'bare', 'switchyard', 'peer'];
type Mode = 'non-stream' | 'stream';
const MODES: Mode[] = ['non-stream', 'stream'];
/** Requests per kind in the Durable Object count. */
const COUNTED_REQUESTS = 300;
const COLD_STARTS = 3;
const ADMISSION_ROUNDS = 4;

interface Setup {
  engines: Engines;
  gateway: Gateway;
  agent: Agent;
  bare: Awaited<ReturnType<typeof startBareProxy>>;
  peer: Awaited<ReturnType<typeof startPeer>>;
  bundle: BundleSize;
}

interface Run {
  figures: LoadFigures;
  /** CPU the system's own processes spent per request (workerd, agent, Portkey), ms. */
  cpuMs: number;
  /** The same, per process (for switchyard: workerd, then the agent). */
  cpuParts: number[];
}

const BODIES = { ...INSTANT_BODIES, paced: chatBody(PACED_MODEL, true, TOKENS.paced) };

function endpoint(s: Setup, system: System, engine: 'instant' | 'paced' = 'instant'): Endpoint {
  const engineUrl = engine === 'instant' ? s.engines.instantUrl : s.engines.pacedUrl;
  switch (system) {
    case 'direct':
      return { url: `${engineUrl}/v1/chat/completions`, headers: {} };
    case 'bare':
      return { url: `${s.bare.url}${engine === 'paced' ? '/paced' : ''}/v1/chat/completions`, headers: {} };
    case 'switchyard':
      return {
        url: `${s.gateway.url}/v1/chat/completions`,
        headers: { authorization: `Bearer ${s.gateway.limitedKey}` },
      };
    case 'peer':
      return {
        url: `${s.peer.url}/v1/chat/completions`,
        headers: {
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': `${engineUrl}/v1`,
          authorization: 'Bearer unused',
        },
      };
  }
}

/** The processes whose CPU a system adds (the engine is the same for all and left out). */
function pidsOf(s: Setup, system: System): number[] {
  switch (system) {
    case 'direct':
      return [];
    case 'bare':
      return [s.bare.child().process.pid!];
    case 'switchyard':
      return [s.gateway.child.process.pid!, s.agent.child.process.pid!];
    case 'peer':
      return [s.peer.child.process.pid!];
  }
}

async function run(
  s: Setup,
  system: System,
  target: Endpoint,
  body: string,
  connections: number,
): Promise<Run> {
  const pids = pidsOf(s, system);
  const before = pids.map(cpuSeconds);
  const figures = await closedLoop(target, body, connections, seconds);
  const cpuParts = pids.map((pid, i) =>
    figures.requests > 0 ? ((cpuSeconds(pid) - before[i]!) * 1000) / figures.requests : NaN,
  );
  return { figures, cpuMs: cpuParts.reduce((sum, part) => sum + part, 0), cpuParts };
}

/** One answer of each kind from every system first: the figures must be of whole completions. */
async function checkAnswers(s: Setup): Promise<void> {
  for (const system of SYSTEMS) {
    for (const [engine, body, stream] of [
      ['instant', BODIES['non-stream'], false],
      ['instant', BODIES.stream, true],
      ['paced', BODIES.paced, true],
    ] as const) {
      const target = endpoint(s, system, engine);
      const response = await fetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...target.headers },
        body,
      });
      const text = await response.text();
      const whole = text.includes('"completion_tokens":') && (!stream || text.trimEnd().endsWith('[DONE]'));
      if (response.status !== 200 || !whole) {
        throw new Error(
          `${system} (${engine}, stream ${stream}) answered HTTP ${response.status}: ${text.slice(0, 300)}`,
        );
      }
    }
  }
}

/** `n` requests, `concurrency` at a time, with fetch (for counting, not timing). */
async function sendRequests(target: Endpoint, body: string, n: number, concurrency: number): Promise<void> {
  let next = 0;
  const client = async () => {
    while (next++ < n) {
      const response = await fetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...target.headers },
        body,
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${text.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
}

async function chatOnce(target: Endpoint): Promise<number> {
  const started = performance.now();
  const response = await fetch(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body: BODIES['non-stream'],
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${text.slice(0, 300)}`);
  return performance.now() - started;
}

const h = new Harness('overhead');

async function main(): Promise<void> {
  h.progress(
    `folder ${h.dir}; starting the engines (instant, and paced at ${PACED_MS_PER_TOKEN} ms/token behind the tap)`,
  );
  const engines = await startEngines(h);
  h.progress('bundling the Worker as `npm start` does, and starting the gateway on plain workerd');
  const bundle = await bundleGateway(h);
  const gateway = await startGateway(h, bundle, values['objects-dir']);
  h.progress('starting the node agent (both engines as external engines)');
  const agent = await startAgent(h, 'agent', gateway, [
    { id: 'instant', model: MODEL, url: engines.instantUrl },
    { id: 'paced', model: PACED_MODEL, url: engines.pacedUrl },
  ]);
  h.progress('bundling and starting the bare proxy; starting Portkey');
  const bare = await startBareProxy(h, engines);
  const peer = await startPeer(h);
  const s: Setup = { engines, gateway, agent, bare, peer, bundle: bundleSize(bundle) };
  await checkAnswers(s);

  h.progress('warming up every system');
  for (const system of SYSTEMS) {
    for (const mode of MODES) await closedLoop(endpoint(s, system), BODIES[mode], 8, warmupSeconds);
  }

  const matrix = new Map<string, Map<System, Run[]>>();
  for (const mode of MODES) {
    for (const connections of levels) {
      const cell = new Map<System, Run[]>(SYSTEMS.map((system) => [system, []]));
      matrix.set(`${mode}|${connections}`, cell);
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse();
        for (const system of order) {
          const result = await run(s, system, endpoint(s, system), BODIES[mode], connections);
          cell.get(system)!.push(result);
          h.progress(
            `${mode}, ${connections} conn, round ${round + 1}, ${system}: ${result.figures.rps.toFixed(0)} req/s, p50 ${ms(result.figures.latency, 50).toFixed(2)} ms`,
          );
        }
      }
    }
  }

  const probes = new Map<number, Map<System, StreamFigures>>();
  for (const [i, connections] of levels.entries()) {
    const row = new Map<System, StreamFigures>();
    probes.set(connections, row);
    for (const system of i % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse()) {
      engines.tap.clear();
      const figures = await streamProbe(
        endpoint(s, system, 'paced'),
        BODIES.paced,
        connections,
        seconds,
        engines.tap,
      );
      row.set(system, figures);
      h.progress(
        `paced stream, ${connections} conn, ${system}: TTFB p50 ${ms(figures.ttfb, 50).toFixed(2)} ms, chunk delay p50 ${ms(figures.chunkDelay, 50).toFixed(3)} ms`,
      );
    }
  }
  engines.tap.clear();

  const admission = await measureAdmission(s);
  const agentFigures = await measureAgent(s);
  const counts = await countObjectCalls(s);
  h.progress('cold starts: restarting the gateway and the bare proxy');
  const coldStarts = [];
  for (let i = 0; i < COLD_STARTS; i++) {
    coldStarts.push(await restartGateway(h, gateway, () => chatOnce(endpoint(s, 'switchyard'))));
  }
  const bareColdStarts = [];
  for (let i = 0; i < COLD_STARTS; i++) bareColdStarts.push(await bare.restart());
  const background = await counts.background();
  h.progress('stopping everything');
  await h.stopAll();
  await engines.tap.close();

  const took = (performance.now() - h.started) / 1000;
  printSetup(s);
  printMatrix(matrix);
  printRatios(matrix);
  printProbes(probes);
  printAdmission(admission);
  printAgent(agentFigures);
  const perRequest = printObjectCalls(counts.perKind, background);
  const cpuMs = meanCpu(matrix, 'switchyard', 'non-stream', 0);
  printCost(perRequest, cpuMs);
  printBundle(s.bundle, bare.bytes);
  printColdStarts(coldStarts, bareColdStarts, matrix);
  printTargets(matrix, probes, perRequest, agentFigures, s.bundle);
  const chartPath = path.resolve(root, values.chart);
  fs.writeFileSync(chartPath, drawChart(matrix, probes));
  console.log(`\nChart: ${path.relative(root, chartPath)}. The run took ${took.toFixed(0)} s.`);
}

// ── Side measurements ─────────────────────────────────────────────────────────────────────

interface Admission {
  unlimited: LoadFigures[];
  limited: LoadFigures[];
}

/** Non-stream, 1 connection, through the gateway with the demo key (no limits) and the limited key, alternating. */
async function measureAdmission(s: Setup): Promise<Admission> {
  const result: Admission = { unlimited: [], limited: [] };
  const unlimited = {
    ...endpoint(s, 'switchyard'),
    headers: { authorization: `Bearer ${s.gateway.apiKey}` },
  };
  // The difference is small against the noise of a shared machine: more rounds than the rest.
  for (let round = 0; round < Math.max(rounds, ADMISSION_ROUNDS); round++) {
    result.unlimited.push(await closedLoop(unlimited, BODIES['non-stream'], 1, seconds));
    result.limited.push(await closedLoop(endpoint(s, 'switchyard'), BODIES['non-stream'], 1, seconds));
    h.progress(
      `admission round ${round + 1}: p50 ${ms(result.unlimited.at(-1)!.latency, 50).toFixed(2)} ms without limits, ${ms(result.limited.at(-1)!.latency, 50).toFixed(2)} ms with every limit`,
    );
  }
  return result;
}

interface AgentFigures {
  direct: LoadFigures[];
  agent: LoadFigures[];
  /** The benchmark's agent (two external engines) after all the load above. */
  rssAfterLoad: number;
  /** An agent supervising four simulators it launched: run from its TypeScript sources, and built as owners install it. */
  sources: { idle: number; loaded: number };
  built: { idle: number; loaded: number };
  /** `node -e` doing nothing: the floor under any Node agent. */
  rssEmptyNode: number;
}

/** Straight to one engine through an agent's proxy, with the node credential the gateway would present. */
function viaAgent(agent: Agent, engineId: string): Endpoint {
  return {
    url: `${agent.url}/v1/chat/completions`,
    headers: { authorization: `Bearer ${agent.credential}`, 'x-switchyard-engine': engineId },
  };
}

/** Client → agent → engine against client → engine, 1 connection; then the agent's memory. */
async function measureAgent(s: Setup): Promise<AgentFigures> {
  const direct: LoadFigures[] = [];
  const through: LoadFigures[] = [];
  for (let round = 0; round < rounds; round++) {
    direct.push(await closedLoop(endpoint(s, 'direct'), BODIES['non-stream'], 1, seconds));
    through.push(await closedLoop(viaAgent(s.agent, 'instant'), BODIES['non-stream'], 1, seconds));
    h.progress(
      `agent round ${round + 1}: p50 ${ms(direct.at(-1)!.latency, 50).toFixed(3)} ms direct, ${ms(through.at(-1)!.latency, 50).toFixed(3)} ms through the agent`,
    );
  }
  const rssAfterLoad = rssMiB(s.agent.child.process.pid!);
  const sources = await fourEngineAgentMemory(s, 'sources');
  const built = await fourEngineAgentMemory(s, buildAgent(h));
  // For scale: the same Node with nothing loaded.
  const empty = h.spawn('empty-node', process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
  await sleep(1000);
  const rssEmptyNode = rssMiB(empty.process.pid!);
  await h.stop(empty);
  return { direct, agent: through, rssAfterLoad, sources, built, rssEmptyNode };
}

/** An agent supervising four simulators it launched, from its sources or from the built file at `main`: its memory. */
async function fourEngineAgentMemory(s: Setup, main: string): Promise<{ idle: number; loaded: number }> {
  const label = main === 'sources' ? 'sources' : 'built';
  h.progress(`starting an agent (${label}) that supervises four simulated engines`);
  const four = await startAgent(
    h,
    `agent-4-engines-${label}`,
    s.gateway,
    [1, 2, 3, 4].map((i) => ({ id: `sim-${i}`, model: `rss-sim-${label}-${i}` })),
    [],
    main === 'sources' ? undefined : main,
  );
  await sleep(2000);
  const idle = rssMiB(four.child.process.pid!);
  const body = chatBody(`rss-sim-${label}-1`, false, TOKENS['non-stream']);
  await closedLoop(viaAgent(four, 'sim-1'), body, 16, seconds);
  const loaded = rssMiB(four.child.process.pid!);
  await h.stop(four.child);
  return { idle, loaded };
}

/** The methods a forwarded call reaches; everything else is background (heartbeats, alarms). */
const REQUEST_METHODS = new Set([
  'Directory.keyIdSecret',
  'ApiKey.admitRequest',
  'ApiKey.settleRequests',
  'ModelPool.pick',
  'ModelPool.releaseLeases',
]);
/** Awaited before the response starts; the rest run in waitUntil after it. */
const LATENCY_PATH = new Set(['Directory.keyIdSecret', 'ApiKey.admitRequest', 'ModelPool.pick']);

interface ObjectCounts {
  perKind: Map<Mode, Counters>;
  background: () => Promise<{ counters: Counters; seconds: number }>;
}

/**
 * The same path on an instrumented copy of the gateway (counted classes, otherwise the same
 * bundle contents): COUNTED_REQUESTS of each kind, then a quiet window for the background.
 */
async function countObjectCalls(s: Setup): Promise<ObjectCounts> {
  h.progress('counting Durable Object calls on an instrumented gateway');
  const gateway = await startInstrumentedGateway(h, 'gateway-instrumented');
  await startAgent(h, 'agent-instrumented', gateway, [
    { id: 'instant', model: MODEL, url: s.engines.instantUrl },
  ]);
  const target = {
    url: `${gateway.url}/v1/chat/completions`,
    headers: { authorization: `Bearer ${gateway.limitedKey}` },
  };
  const perKind = new Map<Mode, Counters>();
  for (const mode of MODES) {
    await gateway.counters(true);
    await sendRequests(target, BODIES[mode], COUNTED_REQUESTS, 8);
    await sleep(1000); // settlement and release run after the response, in waitUntil
    perKind.set(mode, await gateway.counters(true));
  }
  const started = performance.now();
  return {
    perKind,
    async background() {
      // Long enough for the keys' usage flush (USAGE_FLUSH_MS, 10 s) to fire once.
      await sleep(Math.max(0, 11_000 - (performance.now() - started)));
      return { counters: await gateway.counters(true), seconds: (performance.now() - started) / 1000 };
    },
  };
}

// ── Reports ───────────────────────────────────────────────────────────────────────────────

/** The ratio of two added delays; none when the bare proxy's is too small to divide by. */
const addedRatio = (added: number, bareAdded: number) => (bareAdded > 0.05 ? added / bareAdded : NaN);
const merged = (runs: LoadFigures[]) => {
  const all = histogram();
  for (const r of runs) all.add(r.latency);
  return all;
};
const meanOf = (numbers: number[]) => {
  const finite = numbers.filter(Number.isFinite);
  return finite.reduce((sum, n) => sum + n, 0) / finite.length;
};
const rpsOf = (runs: Run[]) => meanOf(runs.map((r) => r.figures.rps));
/** Switchyard's req/s against another system's, round by round (the two ran back to back). */
const roundRatios = (cell: Map<System, Run[]>, other: System) =>
  cell.get('switchyard')!.map((run, i) => run.figures.rps / cell.get(other)![i]!.figures.rps);
const roundRatio = (cell: Map<System, Run[]>, other: System) => meanOf(roundRatios(cell, other));
const cellOf = (matrix: Map<string, Map<System, Run[]>>, mode: Mode, connections: number) =>
  matrix.get(`${mode}|${connections}`)!;
/** Mean CPU per request over every connection count; `part` picks one process (0: switchyard's workerd). */
function meanCpu(matrix: Map<string, Map<System, Run[]>>, system: System, mode: Mode, part?: number): number {
  return meanOf(
    levels.flatMap((c) =>
      cellOf(matrix, mode, c)
        .get(system)!
        .map((r) => (part === undefined ? r.cpuMs : r.cpuParts[part]!)),
    ),
  );
}

function printSetup(s: Setup): void {
  console.log(`\nMachine: ${describeMachine()}; ${describeLoad(h)}. Every process shares these cores.`);
  console.log(
    `Engines: switchyard-sim with --time-scale 0 (instant), ${MAX_BATCH} batch slots; the paced one emits a chunk every ${PACED_MS_PER_TOKEN} ms.`,
  );
  console.log(
    `Requests: POST /v1/chat/completions, non-stream max_tokens ${TOKENS['non-stream']}, stream max_tokens ${TOKENS.stream} (${TOKENS.stream + 4} SSE events), paced stream max_tokens ${TOKENS.paced}.`,
  );
  console.log(
    `Each figure: autocannon for ${seconds} s, ${rounds} rounds alternating the systems' order; latency to the last byte. Switchyard uses a key with every limit set; the agent fronts both engines; its objects' SQLite is in ${values['objects-dir'] ?? 'the run folder (disk)'}.`,
  );
}

function printMatrix(matrix: Map<string, Map<System, Run[]>>): void {
  const rows: string[][] = [];
  for (const mode of MODES) {
    for (const connections of levels) {
      const cell = cellOf(matrix, mode, connections);
      const directP50 = ms(merged(cell.get('direct')!.map((r) => r.figures)), 50);
      for (const system of SYSTEMS) {
        const runs = cell.get(system)!;
        const latency = merged(runs.map((r) => r.figures));
        rows.push([
          `${mode}, ${connections} conn`,
          system,
          fixed(0)(rpsOf(runs)),
          fixed(2)(ms(latency, 50)),
          fixed(2)(ms(latency, 90)),
          fixed(2)(ms(latency, 99)),
          system === 'direct' ? '' : fixed(2)(ms(latency, 50) - directP50),
          system === 'direct' ? '' : fixed(2)(meanOf(runs.map((r) => r.cpuMs))),
          system === 'switchyard'
            ? `${fixed(2)(meanOf(runs.map((r) => r.cpuParts[0]!)))} + ${fixed(2)(meanOf(runs.map((r) => r.cpuParts[1]!)))}`
            : '',
        ]);
      }
    }
  }
  printTable(
    'Throughput and latency (all rounds pooled)',
    [
      'case',
      'system',
      'req/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p50 added ms',
      'CPU ms/req',
      'workerd + agent',
    ],
    rows,
  );
}

function printRatios(matrix: Map<string, Map<System, Run[]>>): void {
  const rows: string[][] = [];
  for (const mode of MODES) {
    for (const connections of levels) {
      const cell = cellOf(matrix, mode, connections);
      const perRound = (system: System) => roundRatios(cell, system);
      const added = (system: System, q: number) =>
        ms(merged(cell.get(system)!.map((r) => r.figures)), q) -
        ms(merged(cell.get('direct')!.map((r) => r.figures)), q);
      rows.push([
        `${mode}, ${connections} conn`,
        spread(perRound('direct')),
        spread(perRound('bare')),
        spread(perRound('peer')),
        times(addedRatio(added('switchyard', 50), added('bare', 50))),
        times(addedRatio(added('switchyard', 99), added('bare', 99))),
      ]);
    }
  }
  printTable(
    'Switchyard against the others (req/s ratios: mean of the rounds, range in brackets; added latency: over direct, against what the bare proxy adds)',
    ['case', 'sy/direct req/s', 'sy/bare req/s', 'sy/peer req/s', 'added p50 sy/bare', 'added p99 sy/bare'],
    rows,
  );
}

function printProbes(probes: Map<number, Map<System, StreamFigures>>): void {
  const rows: string[][] = [];
  for (const [connections, row] of probes) {
    const direct = row.get('direct')!;
    const bareAdded = ms(row.get('bare')!.chunkDelay, 50) - ms(direct.chunkDelay, 50);
    for (const system of SYSTEMS) {
      const f = row.get(system)!;
      const added = ms(f.chunkDelay, 50) - ms(direct.chunkDelay, 50);
      rows.push([
        `${connections} conn`,
        system,
        fixed(0)(f.rps),
        fixed(2)(ms(f.ttfb, 50)),
        fixed(2)(ms(f.ttfb, 99)),
        fixed(3)(ms(f.chunkDelay, 50)),
        fixed(3)(ms(f.chunkDelay, 99)),
        system === 'direct' ? '' : fixed(3)(added),
        system === 'switchyard' ? times(addedRatio(added, bareAdded)) : '',
        String(f.unmatched),
      ]);
    }
  }
  printTable(
    `Streams from the paced engine (${TOKENS.paced} tokens, a chunk every ${PACED_MS_PER_TOKEN} ms): time to first byte, and each chunk's delay from leaving the engine to reaching the client`,
    [
      'load',
      'system',
      'streams/s',
      'TTFB p50',
      'TTFB p99',
      'chunk p50',
      'chunk p99',
      'chunk added p50',
      'sy/bare',
      'unmatched',
    ],
    rows,
  );
}

function printAdmission(a: Admission): void {
  const p50 = (runs: LoadFigures[]) => meanOf(runs.map((r) => ms(r.latency, 50)));
  const rps = (runs: LoadFigures[]) => meanOf(runs.map((r) => r.rps));
  console.log(
    `\nAdmission (the key's limits: rpm, tpm, concurrency, daily and monthly quotas), non-stream, 1 conn, alternating, ${a.limited.length} × ${seconds} s each:`,
  );
  console.log(
    `  key without limits: p50 ${p50(a.unlimited).toFixed(2)} ms, ${rps(a.unlimited).toFixed(0)} req/s; with every limit: p50 ${p50(a.limited).toFixed(2)} ms, ${rps(a.limited).toFixed(0)} req/s`,
  );
  const perRound = a.limited.map((run, i) => ms(run.latency, 50) - ms(a.unlimited[i]!.latency, 50));
  const sorted = [...perRound].sort((x, y) => x - y);
  const median =
    (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
  console.log(
    `  admission adds ${median.toFixed(2)} ms to p50 (median of the rounds' differences: ${perRound.map((d) => d.toFixed(2)).join(', ')} ms; ${((rps(a.limited) / rps(a.unlimited)) * 100).toFixed(1)}% of the throughput without limits). bench:scale times the same work inside the key's object, without this noise.`,
  );
}

function printAgent(a: AgentFigures): void {
  const direct = merged(a.direct);
  const agent = merged(a.agent);
  console.log(`\nThe agent's proxy (client → agent → engine against client → engine, non-stream, 1 conn):`);
  console.log(
    `  p50 ${ms(direct, 50).toFixed(3)} → ${ms(agent, 50).toFixed(3)} ms (adds ${(ms(agent, 50) - ms(direct, 50)).toFixed(3)} ms), p99 ${ms(direct, 99).toFixed(3)} → ${ms(agent, 99).toFixed(3)} ms; ${meanOf(a.direct.map((r) => r.rps)).toFixed(0)} → ${meanOf(a.agent.map((r) => r.rps)).toFixed(0)} req/s`,
  );
  console.log(
    `  resident memory: ${a.rssAfterLoad.toFixed(0)} MiB (the bench's agent, 2 external engines, after the run); with 4 simulated engines supervised, idle and after ${seconds} s of 16-connection load (the agent process alone; an idle \`node -e\` takes ${a.rssEmptyNode.toFixed(0)} MiB): built (what owners install) ${a.built.idle.toFixed(0)} and ${a.built.loaded.toFixed(0)} MiB, from the TypeScript sources ${a.sources.idle.toFixed(0)} and ${a.sources.loaded.toFixed(0)} MiB`,
  );
}

interface PerRequest {
  /** Per request, both kinds averaged. */
  onPath: number;
  offPath: number;
  rowsRead: number;
  rowsWritten: number;
}

function printObjectCalls(
  perKind: Map<Mode, Counters>,
  background: { counters: Counters; seconds: number },
): PerRequest {
  const methods = [
    ...new Set([...perKind.values()].flatMap((c) => Object.keys(c.calls).concat(Object.keys(c.rows)))),
  ]
    .filter((m) => REQUEST_METHODS.has(m))
    .sort();
  const rows: string[][] = [];
  const totals: PerRequest = { onPath: 0, offPath: 0, rowsRead: 0, rowsWritten: 0 };
  for (const method of methods) {
    const cells = MODES.map((mode) => {
      const counters = perKind.get(mode)!;
      const calls = (counters.calls[method] ?? 0) / COUNTED_REQUESTS;
      const r = counters.rows[method] ?? { read: 0, written: 0, alarms: 0 };
      return {
        calls,
        read: r.read / COUNTED_REQUESTS,
        written: (r.written + r.alarms) / COUNTED_REQUESTS,
      };
    });
    const mean = (pick: (c: (typeof cells)[number]) => number) => meanOf(cells.map(pick));
    if (LATENCY_PATH.has(method)) totals.onPath += mean((c) => c.calls);
    else totals.offPath += mean((c) => c.calls);
    totals.rowsRead += mean((c) => c.read);
    totals.rowsWritten += mean((c) => c.written);
    rows.push([
      method,
      LATENCY_PATH.has(method) ? 'awaited' : 'waitUntil',
      ...cells.flatMap((c) => [fixed(2)(c.calls), fixed(2)(c.read), fixed(2)(c.written)]),
    ]);
  }
  printTable(
    `Durable Object calls per forwarded request (${COUNTED_REQUESTS} of each kind, instrumented gateway; rows written include setAlarm, billed as one row)`,
    [
      'method',
      'when',
      'non-stream calls',
      'rows read',
      'rows written',
      'stream calls',
      'rows read',
      'rows written',
    ],
    rows,
  );
  console.log(
    `  per request: ${totals.onPath.toFixed(2)} calls awaited on the latency path (sent together: admission and the pick), ${totals.offPath.toFixed(2)} after the response; ${totals.rowsRead.toFixed(2)} rows read, ${totals.rowsWritten.toFixed(2)} rows written`,
  );
  const bg = Object.entries(background.counters.calls)
    .map(([method, n]) => `${method} ${(n / background.seconds).toFixed(2)}/s`)
    .join(', ');
  console.log(
    `  background over ${background.seconds.toFixed(0)} s with one agent (1 s heartbeats) and one active key: ${bg}`,
  );
  return totals;
}

/** $ per million, from https://developers.cloudflare.com/durable-objects/platform/pricing/ and Workers Standard pricing. */
const PRICES = {
  workerRequests: 0.3,
  workerCpuMs: 0.02,
  objectRequests: 0.15,
  rowsWritten: 1.0,
  rowsRead: 0.001,
  gbSeconds: 12.5,
};

function printCost(perRequest: PerRequest, cpuMs: number): void {
  const lines: Array<[string, number]> = [
    ['Workers requests (1 per call, $0.30/M)', PRICES.workerRequests],
    [
      `Workers CPU (≤ ${cpuMs.toFixed(2)} ms/call measured for workerd and objects together, $0.02/M ms)`,
      cpuMs * PRICES.workerCpuMs,
    ],
    [
      `Durable Object requests (${(perRequest.onPath + perRequest.offPath).toFixed(2)} calls, $0.15/M)`,
      (perRequest.onPath + perRequest.offPath) * PRICES.objectRequests,
    ],
    [
      `SQLite rows written (${perRequest.rowsWritten.toFixed(2)}, $1.00/M)`,
      perRequest.rowsWritten * PRICES.rowsWritten,
    ],
    [`SQLite rows read (${perRequest.rowsRead.toFixed(2)}, $0.001/M)`, perRequest.rowsRead * PRICES.rowsRead],
  ];
  const total = lines.reduce((sum, [, dollars]) => sum + dollars, 0);
  printTable(
    'Cloudflare cost per million forwarded requests, beyond the included amounts (Workers Paid)',
    ['item', '$ per million'],
    [
      ...lines.map(([item, dollars]) => [item, dollars.toFixed(3)]),
      ['total, before duration', total.toFixed(3)],
    ],
  );
  // A key's object and a pool's object both stay active while requests keep arriving: 128 MB each, wall-clock.
  const duration = (rate: number) => ((2 * 0.125 * 1e6) / rate) * (PRICES.gbSeconds / 1e6);
  console.log(
    `  plus Durable Object duration (128 MB per active object, $12.50/M GB-s) for one busy key and one busy pool: $${duration(1).toFixed(2)}/M at 1 req/s, $${duration(10).toFixed(2)}/M at 10 req/s, $${duration(100).toFixed(3)}/M at 100 req/s, $${duration(1000).toFixed(4)}/M at 1,000 req/s`,
  );
}

function printBundle(b: BundleSize, bareBytes: number): void {
  console.log(
    `\nWorker bundle (scripts/bundle.ts, as wrangler deploy builds it): ${kib(b.bytes)} (${kib(b.gzipBytes)} gzipped); the bare proxy's: ${kib(bareBytes)}`,
  );
  console.log(
    `  largest parts: ${b.parts
      .slice(0, 8)
      .map((p) => `${p.part} ${kib(p.bytes)}`)
      .join(', ')}`,
  );
}

function printColdStarts(
  gateway: Array<{ listenMs: number; firstAnswerMs: number; firstChatMs: number; secondChatMs: number }>,
  bare: Array<{ listenMs: number; firstAnswerMs: number }>,
  matrix: Map<string, Map<System, Run[]>>,
): void {
  const median = (numbers: number[]) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)]!;
  const warm = ms(
    merged(
      cellOf(matrix, 'non-stream', levels[0]!)
        .get('switchyard')!
        .map((r) => r.figures),
    ),
    50,
  );
  console.log(`\nCold start (median of ${gateway.length} restarts of workerd on the same storage):`);
  console.log(
    `  gateway: ${median(gateway.map((g) => g.listenMs)).toFixed(0)} ms to listen, ${median(gateway.map((g) => g.firstAnswerMs)).toFixed(1)} ms for the first answer (GET /healthz: the isolate loads the bundle), ${median(gateway.map((g) => g.firstChatMs)).toFixed(1)} ms for the first chat completion after it (every object on the path starts from SQLite), then ${median(gateway.map((g) => g.secondChatMs)).toFixed(1)} ms (warm p50 under load: ${warm.toFixed(2)} ms)`,
  );
  console.log(
    `  bare proxy: ${median(bare.map((b) => b.listenMs)).toFixed(0)} ms to listen, ${median(bare.map((b) => b.firstAnswerMs)).toFixed(1)} ms for its first answer (a chat completion)`,
  );
}

function printTargets(
  matrix: Map<string, Map<System, Run[]>>,
  probes: Map<number, Map<System, StreamFigures>>,
  perRequest: PerRequest,
  agent: AgentFigures,
  bundle: BundleSize,
): void {
  const top = Math.max(...levels);
  const low = Math.min(...levels);
  const rows: string[][] = [];
  const row = (
    target: string,
    measured: number,
    goal: number,
    format: (v: number) => string,
    atMost = false,
  ) =>
    rows.push([
      target,
      format(measured),
      `${atMost ? '≤' : '≥'} ${format(goal)}`,
      (atMost ? measured <= goal : measured >= goal) ? 'yes' : 'no',
    ]);
  for (const mode of MODES) {
    const cell = cellOf(matrix, mode, top);
    row(`${mode}, ${top} conn: req/s against the peer`, roundRatio(cell, 'peer'), 2, times);
    row(`${mode}, ${top} conn: req/s against the bare proxy`, roundRatio(cell, 'bare'), 0.5, times);
  }
  const cell = cellOf(matrix, 'non-stream', low);
  const added = (system: System, q: number) =>
    ms(merged(cell.get(system)!.map((r) => r.figures)), q) -
    ms(merged(cell.get('direct')!.map((r) => r.figures)), q);
  row(
    `non-stream, ${low} conn: added p50 against the bare proxy's`,
    addedRatio(added('switchyard', 50), added('bare', 50)),
    2,
    times,
    true,
  );
  row(
    `non-stream, ${low} conn: added p99 against the bare proxy's`,
    addedRatio(added('switchyard', 99), added('bare', 99)),
    3,
    times,
    true,
  );
  const probe = probes.get(low)!;
  const chunkAdded = (system: System) =>
    ms(probe.get(system)!.chunkDelay, 50) - ms(probe.get('direct')!.chunkDelay, 50);
  row(
    `stream, ${low} conn: added chunk delay against the bare proxy's`,
    addedRatio(chunkAdded('switchyard'), chunkAdded('bare')),
    2,
    times,
    true,
  );
  row('Durable Object calls awaited on the latency path', perRequest.onPath, 2, fixed(2), true);
  row(
    "agent's proxy: added p50 (ms)",
    ms(merged(agent.agent), 50) - ms(merged(agent.direct), 50),
    0.3,
    fixed(3),
    true,
  );
  row(
    'agent resident memory with 4 engines, built (MiB)',
    Math.max(agent.built.idle, agent.built.loaded),
    100,
    fixed(0),
    true,
  );
  rows.push(['Worker bundle', kib(bundle.bytes), 'as small as it can be', '–']);
  printTable('Targets (issue 11)', ['target', 'measured', 'goal', 'met'], rows);
}

function drawChart(
  matrix: Map<string, Map<System, Run[]>>,
  probes: Map<number, Map<System, StreamFigures>>,
): Buffer {
  const groups = levels.map(String);
  const series = (value: (system: System, connections: number) => number, systems = SYSTEMS) =>
    new Map(systems.map((system) => [system, levels.map((c) => value(system, c))]));
  const p50 = (mode: Mode) => (system: System, c: number) =>
    ms(
      merged(
        cellOf(matrix, mode, c)
          .get(system)!
          .map((r) => r.figures),
      ),
      50,
    );
  return drawBarCharts([
    {
      title: 'req/s, non-stream (log)',
      groups,
      xLabel: 'connections',
      log: true,
      values: series((system, c) => rpsOf(cellOf(matrix, 'non-stream', c).get(system)!)),
    },
    {
      title: `req/s, stream of ${TOKENS.stream} (log)`,
      groups,
      xLabel: 'connections',
      log: true,
      values: series((system, c) => rpsOf(cellOf(matrix, 'stream', c).get(system)!)),
    },
    {
      title: 'p50 ms, non-stream (log)',
      groups,
      xLabel: 'connections',
      log: true,
      values: series(p50('non-stream')),
    },
    {
      title: 'chunk delay added, p50 ms (log)',
      groups,
      xLabel: 'connections',
      log: true,
      values: series(
        (system, c) =>
          ms(probes.get(c)!.get(system)!.chunkDelay, 50) - ms(probes.get(c)!.get('direct')!.chunkDelay, 50),
        ['bare', 'switchyard', 'peer'],
      ),
    },
  ]);
}

// Start-up, the 4-engine agent, the count and the cold starts take about 2 minutes; the rest is measured time.
const measuredSeconds =
  (levels.length * 2 * rounds * SYSTEMS.length +
    levels.length * SYSTEMS.length +
    2 * Math.max(rounds, ADMISSION_ROUNDS) +
    2 * rounds +
    1) *
  seconds;
await h.run(main, { watchdogMs: (300 + 2 * measuredSeconds) * 1000 });
