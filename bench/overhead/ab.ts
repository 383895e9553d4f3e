/**
 * Is a change worth keeping? The gateway and agent at a base commit against the working tree, in
 * one run, alternating round by round (the order reversed every other round), against the same
 * instant engine, with the bare proxy measured alongside as the yardstick. Timings on a shared
 * 2-core machine move several-fold between runs; back-to-back rounds and CPU per request (read
 * from /proc for workerd and the agent together) are what survive that.
 *
 *   npm run bench:ab -- --base <git ref> [--connections 1,64] [--kinds non-stream,stream]
 *                       [--rounds 3] [--seconds 4]
 *
 * The base is checked out as a detached git worktree in the run's folder, sharing this
 * checkout's node_modules; each side gets its own gateway (own objects' storage) and agent.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bundleWorker } from '../../scripts/bundle.ts';
import { parseWranglerToml } from '../../scripts/workerd-config.ts';
import { Harness, cpuSeconds, describeLoad, describeMachine, root } from './harness.ts';
import { closedLoop, ms, type Endpoint } from './load.ts';
import {
  INSTANT_BODIES,
  MODEL,
  bundleGateway,
  startAgent,
  startBareProxy,
  startEngines,
  startGateway,
} from './systems.ts';
import { fixed, printTable } from './table.ts';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    connections: { type: 'string', default: '1,64' },
    kinds: { type: 'string', default: 'non-stream,stream' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
  },
});
const KINDS = ['non-stream', 'stream'] as const;
type Kind = (typeof KINDS)[number];
const connectionCounts = values.connections.split(',').map(Number);
const kinds = values.kinds.split(',') as Kind[];
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
if (!values.base) usage('--base <git ref> is required: the commit to compare the working tree against');
if (connectionCounts.some((n) => !Number.isInteger(n) || n < 1))
  usage('--connections takes whole numbers ≥ 1');
if (kinds.some((kind) => !KINDS.includes(kind))) usage(`--kinds takes ${KINDS.join(', ')}`);
if (!(rounds >= 1 && seconds > 0)) usage('--rounds and --seconds take positive numbers');
const baseCommit = resolveCommit(values.base!);

interface System extends Endpoint {
  /** The processes whose CPU the system spends: workerd, and the agent for switchyard. */
  pids: () => number[];
}

interface Sample {
  rps: number;
  p50: number;
  cpuMs: number;
}

const h = new Harness('ab');

async function main(): Promise<void> {
  console.log(describeMachine());
  console.log(`Base: ${values.base} (${baseCommit.slice(0, 12)}); head: the working tree.`);
  const worktree = path.join(h.dir, 'base');
  h.progress(`checking out ${baseCommit.slice(0, 12)} as a worktree`);
  execFileSync('git', ['worktree', 'add', '--detach', worktree, baseCommit], { cwd: root, stdio: 'ignore' });
  try {
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(worktree, 'node_modules'));
    await compare(worktree);
  } finally {
    execFileSync('git', ['worktree', 'remove', '--force', worktree], { cwd: root, stdio: 'ignore' });
  }
}

async function compare(worktree: string): Promise<void> {
  const engines = await startEngines(h);
  h.progress('bundling both gateways');
  const baseMain = parseWranglerToml(fs.readFileSync(path.join(worktree, 'wrangler.toml'), 'utf8')).main;
  const baseBundle = await bundleWorker(worktree, path.join(h.dir, 'base-bundle'), baseMain);
  const headBundle = await bundleGateway(h);
  h.progress('starting both gateways and their agents, and the bare proxy');
  const engine = [{ id: 'instant', model: MODEL, url: engines.instantUrl }];
  const baseGateway = await startGateway(h, baseBundle, h.dir);
  const headGateway = await startGateway(h, headBundle, h.dir);
  const baseAgentMain = path.join(worktree, 'gpu-node', 'bin', 'gpu-node.js');
  const baseAgent = await startAgent(h, 'agent-base', baseGateway, engine, [], baseAgentMain);
  const headAgent = await startAgent(h, 'agent-head', headGateway, engine);
  const bare = await startBareProxy(h, engines);
  const systems: Record<'bare' | 'base' | 'head', System> = {
    bare: { url: `${bare.url}/v1/chat/completions`, headers: {}, pids: () => [bare.child().process.pid!] },
    base: {
      url: `${baseGateway.url}/v1/chat/completions`,
      headers: { authorization: `Bearer ${baseGateway.limitedKey}` },
      pids: () => [baseGateway.child.process.pid!, baseAgent.child.process.pid!],
    },
    head: {
      url: `${headGateway.url}/v1/chat/completions`,
      headers: { authorization: `Bearer ${headGateway.limitedKey}` },
      pids: () => [headGateway.child.process.pid!, headAgent.child.process.pid!],
    },
  };
  h.progress('warming up');
  for (const system of Object.values(systems))
    for (const kind of kinds) await closedLoop(system, INSTANT_BODIES[kind], 4, 1);

  const rows: string[][] = [];
  for (const kind of kinds) {
    for (const connections of connectionCounts) {
      const samples = { bare: [] as Sample[], base: [] as Sample[], head: [] as Sample[] };
      for (let round = 0; round < rounds; round++) {
        const order = Object.keys(systems) as Array<keyof typeof systems>;
        for (const name of round % 2 === 0 ? order : order.reverse()) {
          samples[name].push(await measure(systems[name], INSTANT_BODIES[kind], connections));
          const last = samples[name].at(-1)!;
          h.progress(
            `${kind}, ${connections} conn, round ${round + 1}, ${name}: ${last.rps.toFixed(0)} req/s`,
          );
        }
      }
      const ratios = samples.head.map((sample, i) => sample.rps / samples.base[i]!.rps);
      rows.push([
        `${kind}, ${connections} conn`,
        mean(samples.bare, 'rps').toFixed(0),
        mean(samples.base, 'rps').toFixed(0),
        mean(samples.head, 'rps').toFixed(0),
        `${fixed(2)(mean(samples.head, 'rps') / mean(samples.base, 'rps'))}× (${fixed(2)(Math.min(...ratios))}–${fixed(2)(Math.max(...ratios))}×)`,
        `${fixed(2)(mean(samples.base, 'p50'))} → ${fixed(2)(mean(samples.head, 'p50'))}`,
        `${fixed(2)(mean(samples.base, 'cpuMs'))} → ${fixed(2)(mean(samples.head, 'cpuMs'))}`,
        `${fixed(2)(mean(samples.base, 'rps') / mean(samples.bare, 'rps'))}× → ${fixed(2)(mean(samples.head, 'rps') / mean(samples.bare, 'rps'))}×`,
      ]);
    }
  }
  printTable(
    `Base against head (${rounds} rounds of ${seconds} s, alternating; CPU: workerd + agent per request)`,
    ['case', 'bare req/s', 'base req/s', 'head req/s', 'head/base req/s', 'p50 ms', 'CPU ms/req', 'vs bare'],
    rows,
  );
  console.log(describeLoad(h));
}

async function measure(system: System, body: string, connections: number): Promise<Sample> {
  const pids = system.pids();
  const before = pids.map(cpuSeconds);
  const figures = await closedLoop(system, body, connections, seconds);
  const cpuSecondsSpent = pids.reduce((sum, pid, i) => sum + cpuSeconds(pid) - before[i]!, 0);
  return {
    rps: figures.rps,
    p50: ms(figures.latency, 50),
    cpuMs: (cpuSecondsSpent * 1000) / figures.requests,
  };
}

function mean(samples: Sample[], field: keyof Sample): number {
  return samples.reduce((sum, sample) => sum + sample[field], 0) / samples.length;
}

function resolveCommit(ref: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
  } catch {
    return usage(`--base ${ref} names no commit in this repository`);
  }
}

function usage(problem: string): never {
  console.error(
    `bench:ab: ${problem}\n\n  npm run bench:ab -- --base <git ref> [--connections 1,64] [--kinds non-stream,stream] [--rounds 3] [--seconds 4]`,
  );
  process.exit(2);
}

const perCase = rounds * 3 * (seconds + 1);
await h.run(main, { watchdogMs: 240_000 + kinds.length * connectionCounts.length * perCase * 1000 });
