/**
 * The routing benchmark: the real gateway (bundled and served on plain workerd as `npm start`
 * does), a real node agent, and three heterogeneous engine simulators, under multi-turn chat
 * with shared system prompts, at several load levels, once per routing policy, in one run.
 * Prints per policy mean and p99 time to first token, tokens/s and the engines' own
 * prefix-cache hit rate, with ratios to round-robin; writes the TTFT-vs-load chart; then
 * measures the shared-index claim: the same workload through two edges that share one pool
 * object, against two edges with an index each.
 *
 *   npm run bench:routing [-- --seconds 10 --warmup 4 --rounds 2 --levels 6,16,28 --policies all --no-edges]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isRoutingPolicy } from '../../src/routing/policies.ts';
import { drawTtftChart } from './chart.ts';
import { ConversationSource } from './conversations.ts';
import { prefixDelta, readAllCounters, type EngineCounters } from './engine-counters.ts';
import { Fleet, setPolicy, type Gateway } from './fleet.ts';
import { runLoad } from './load-run.ts';
import { printTable, type Results } from './report.ts';
import { ENGINES, LOAD_LEVELS, POLICIES, WORKLOAD } from './scenario.ts';
import { summarize, type Summary, type Window } from './stats.ts';
import type { Endpoint } from './chat-client.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    levels: { type: 'string', default: LOAD_LEVELS.join(',') },
    policies: { type: 'string', default: 'all' },
    'no-edges': { type: 'boolean', default: false },
    chart: { type: 'string', default: 'docs/routing-ttft.png' },
  },
});
const measureMs = Number(values.seconds) * 1000;
const warmupMs = Number(values.warmup) * 1000;
const rounds = Number(values.rounds);
const levels = values.levels.split(',').map(Number);
const policies = values.policies === 'all' ? POLICIES : values.policies.split(',').filter(isRoutingPolicy);
const root = path.resolve(import.meta.dirname, '../..');
const progress = (line: string) => console.error(`[routing] ${line}`);
let windowsRun = 0;

/** One measured window; every window gets prompts no engine or index has seen before. */
async function measure(endpoints: Endpoint[], users: number, simulators: string[]): Promise<Window> {
  const source = new ConversationSource(WORKLOAD, `run ${process.pid}-${++windowsRun}`);
  let before: EngineCounters[] = [];
  const load = await runLoad({
    endpoints,
    users,
    warmupMs,
    measureMs,
    source,
    workload: WORKLOAD,
    onWindowOpen: async () => void (before = await readAllCounters(simulators)),
  });
  const { queries, hits } = prefixDelta(before, await readAllCounters(simulators));
  const window = { load, prefixQueries: queries, prefixHits: hits };
  const summary = summarize([window]);
  progress(
    `  mean TTFT ${summary.meanTtftMs.toFixed(0)} ms, p99 ${summary.p99TtftMs.toFixed(0)} ms, ${summary.tokensPerSecond.toFixed(1)} tokens/s, hits ${(summary.hitRate * 100).toFixed(1)}%; turns per engine ${JSON.stringify(load.engines)}`,
  );
  if (load.failures.length > 0) progress(`  ${load.failures.length} failed turns, e.g. ${load.failures[0]}`);
  // Abandoned turns end at the engines before the next window starts.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return window;
}

/**
 * Every variant at one load level, `rounds` times, in alternating order (forwards, then
 * backwards), so neither the order nor a burst of noise from elsewhere favours one.
 */
async function interleaved<T extends string>(
  variants: readonly T[],
  run: (variant: T) => Promise<Window>,
): Promise<Map<T, Summary>> {
  const windows = new Map<T, Window[]>(variants.map((v) => [v, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) windows.get(variant)!.push(await run(variant));
  }
  return new Map(variants.map((v) => [v, summarize(windows.get(v)!)]));
}

async function comparePolicies(fleet: Fleet, simulators: string[]): Promise<Results> {
  const gateway = await fleet.startGateway('gateway');
  await fleet.startAgent('agent', gateway, simulators);
  const endpoint = { url: gateway.urls[0]!, apiKey: gateway.apiKey };
  const results: Results = new Map();
  for (const users of levels) {
    const row = await interleaved(policies, async (policy) => {
      await setPolicy(gateway, policy);
      progress(`${users} conversations, ${policy}`);
      return measure([endpoint], users, simulators);
    });
    results.set(users, row);
  }
  return results;
}

const SHARED = 'two edges, one shared index';
const SEPARATE = 'two edges, an index each';

/** Two edges, each request entering through either at random: one shared pool object, or one each. */
async function compareIndexes(
  fleet: Fleet,
  simulators: string[],
  users: number,
): Promise<Map<string, Summary>> {
  const endpointsOf = (gateways: Gateway[]) =>
    gateways.flatMap((g) => g.urls.map((url) => ({ url, apiKey: g.apiKey })));
  const shared = [await fleet.startGateway('edges-shared', 2)];
  const separate = [await fleet.startGateway('edge-a'), await fleet.startGateway('edge-b')];
  for (const [i, gateway] of [...shared, ...separate].entries()) {
    await fleet.startAgent(`agent-${i}`, gateway, simulators);
    await setPolicy(gateway, 'affinity');
  }
  return interleaved([SHARED, SEPARATE], async (variant) => {
    progress(`${variant}: ${users} conversations, affinity`);
    return measure(endpointsOf(variant === SHARED ? shared : separate), users, simulators);
  });
}

async function main(fleet: Fleet): Promise<void> {
  const started = Date.now();
  progress(`state folder ${fleet.dir}; starting ${ENGINES.length} simulators`);
  const simulators = await fleet.startSimulators();
  const results = await comparePolicies(fleet, simulators);
  const edges = values['no-edges'] ? null : await compareIndexes(fleet, simulators, Math.max(...levels));
  await fleet.stop();

  console.log(describeSetup());
  for (const [users, row] of results) {
    printTable(`${users} concurrent conversations (against round-robin)`, [...row], row.get('round-robin'));
  }
  if (edges) {
    const title = `Shared index: ${Math.max(...levels)} conversations entering through two edges at random, affinity (against an index each)`;
    printTable(title, [...edges], edges.get(SEPARATE));
  }
  const chartPath = path.resolve(root, values.chart);
  fs.writeFileSync(chartPath, drawTtftChart(results));
  console.log(
    `\nChart: ${path.relative(root, chartPath)}. Run took ${((Date.now() - started) / 1000).toFixed(0)} s.`,
  );
}

function describeSetup(): string {
  const engines = ENGINES.map(
    (e) =>
      `${e.id} (${e.maxBatch} slots, ${e.flags['decode-ms-per-token']} ms/token, ${e.flags['prefill-tokens-per-s']} prefill tokens/s, ${e.flags['prefix-cache-tokens']}-token prefix cache)`,
  ).join('; ');
  return [
    `\nEngines: ${engines}.`,
    `Workload: ${WORKLOAD.systemPrompts} shared system prompts of ${WORKLOAD.systemPromptChars} characters, ${WORKLOAD.turns.join('–')} turns per conversation, user messages of ${WORKLOAD.userMessageChars.join('–')} characters, max_tokens ${WORKLOAD.maxTokens}, streamed.`,
    `Each figure: ${rounds} windows of ${measureMs / 1000} s pooled, each after ${warmupMs / 1000} s of warm-up, policies interleaved; ${os.cpus().length} cores shared by client, gateway, agent and simulators. Ratios (×): the baseline's TTFT ÷ the row's (times lower), the row's tokens/s and hit rate ÷ the baseline's.`,
  ].join('\n');
}

const fleet = new Fleet(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-routing-')));
let keepDir = true;
process.on('exit', () => {
  if (keepDir) console.error(`[routing] logs kept in ${fleet.dir}`);
  else fs.rmSync(fleet.dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => void fleet.stop().finally(() => process.exit(130)));
}
try {
  await main(fleet);
  keepDir = false;
} catch (error) {
  console.error('[routing] failed:', error);
  await fleet.stop().catch(() => {});
  process.exitCode = 1;
}
