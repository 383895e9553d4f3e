/**
 * What does going through Switchyard cost? The same POST /v1/chat/completions, measured in one
 * run against an instant engine simulator called directly, and through the whole local path:
 * client → gateway on plain workerd (Durable Object RPCs: the key's admitRequest, the model
 * pool's pick, then its release) → node agent's proxy → an identical instant simulator that the
 * agent launched. Prints req/s, p50 and p99 per case, and what the gateway path keeps of the
 * direct throughput and adds to p50. Everything on 127.0.0.1, in a temporary folder.
 *
 *   npx node bench/gateway-overhead.ts [--seconds 5] [--warmup 1.5]
 */
import autocannon from 'autocannon';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { bundleWorker } from '../scripts/bundle.ts';
import { descendantsOf, freePort, isAlive } from '../gpu-node/index.ts';
import { spawnManaged, tailLog, type ManagedChild } from '../scripts/child-processes.ts';
import { ensureSeeded, waitForHealthy, waitForModels } from '../scripts/seed-gateway.ts';
import { serveGateway } from '../scripts/serve-gateway.ts';
import { parseWranglerToml } from '../scripts/workerd-config.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, warmup: { type: 'string', default: '1.5' } },
});
const seconds = Number(values.seconds);
const warmupSeconds = Number(values.warmup);
/** The run ends even if something hangs: ~15 s of start-up, then 10 measurements and 2 warm-ups. */
const WATCHDOG_MS = 45_000 + (10 * seconds + 2 * warmupSeconds) * 1000;
const MODEL = 'bench-sim';
/** Batch slots of both simulators, and the agent's maxConcurrency: far above any connection count. */
const MAX_BATCH = 256;
const root = path.resolve(import.meta.dirname, '..');
const simMain = path.join(root, 'gpu-node', 'sim', 'main.ts');
/** With how long each may take to stop on SIGTERM: the agent drains, then stops its engine. */
const children: Array<{ child: ManagedChild; graceMs: number }> = [];
/** Every process seen below this one: an engine outlives an agent that dies, and is then no descendant. */
const seenPids = new Set<number>();
const ourProcesses = () => {
  descendantsOf(process.pid).forEach((pid) => seenPids.add(pid));
  return [...seenPids].filter(isAlive);
};
const progress = (line: string) => console.error(`[gateway-overhead] ${line}`);

interface Case {
  name: string;
  connections: number;
  stream: boolean;
}
const CASES: Case[] = [
  { name: 'non-stream', connections: 1, stream: false },
  { name: 'non-stream', connections: 32, stream: false },
  { name: 'stream', connections: 8, stream: true },
];

interface Measurement {
  rps: number;
  p50: number;
  p99: number;
}

function requestBody(stream: boolean): string {
  return JSON.stringify({
    model: MODEL,
    messages: [{ role: 'user', content: 'Say hello to the benchmark.' }],
    max_tokens: 16,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

/**
 * autocannon's own percentiles are whole milliseconds, too coarse for an instant engine, so
 * every response time (fractional ms, to the last byte, streams included) is kept and sorted.
 */
function measure(url: string, apiKey: string | null, c: Case, duration: number): Promise<Measurement> {
  const times: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${url}/v1/chat/completions`,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        },
        body: requestBody(c.stream),
        connections: c.connections,
        duration,
      },
      (error: unknown, result) => {
        if (error) return reject(new Error(`autocannon against ${url} failed`, { cause: error }));
        if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
          const problems = `${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`;
          return reject(new Error(`${url} (${c.name}, ${c.connections} conn): ${problems}`));
        }
        times.sort((a, b) => a - b);
        const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN;
        resolve({ rps: times.length / duration, p50: at(0.5), p99: at(0.99) });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => times.push(responseTime));
  });
}

/** One answer of each kind first, so that the figures are of whole completions, not of quick errors. */
async function checkAnswers(url: string, apiKey: string | null): Promise<void> {
  const headers = {
    'content-type': 'application/json',
    ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
  };
  for (const stream of [false, true]) {
    const body = requestBody(stream);
    const response = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers, body });
    const text = await response.text();
    const whole = text.includes('"completion_tokens":16') && (!stream || text.trimEnd().endsWith('[DONE]'));
    if (response.status !== 200 || !whole) {
      throw new Error(`${url} answered HTTP ${response.status} (stream: ${stream}): ${text.slice(0, 400)}`);
    }
  }
}

async function waitForHttp(url: string, child: ManagedChild, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) break;
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${child.name} did not answer ${url} within ${timeoutMs} ms:\n${tailLog(child.logFile)}`);
}

async function startDirectSimulator(dir: string): Promise<string> {
  const port = await freePort();
  const args = [simMain, '--port', String(port), '--served-model-name', MODEL];
  const sim = spawnManaged(
    'direct simulator',
    process.execPath,
    [...args, '--time-scale', '0', '--max-batch', String(MAX_BATCH)],
    { cwd: root, env: process.env, logFile: path.join(dir, 'direct-sim.log') },
  );
  children.push({ child: sim, graceMs: 3000 });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, sim, 15_000);
  return url;
}

/** The gateway as `npm start` runs it (same bundle, config and seeding), in `dir`. */
async function startGateway(
  dir: string,
): Promise<{ url: string; apiKey: string; limitedKey: string; nodeToken: string }> {
  const wranglerToml = fs.readFileSync(path.join(root, 'wrangler.toml'), 'utf8');
  const bundle = await bundleWorker(root, path.join(dir, 'bundle'), parseWranglerToml(wranglerToml).main);
  const adminToken = `adm_${crypto.randomBytes(24).toString('base64url')}`;
  const env = { ALLOW_PRIVATE_NODE_URLS: 'true', ...process.env, ADMIN_TOKEN: adminToken };
  const workerd = await serveGateway({
    wranglerToml,
    bundle,
    configPath: path.join(dir, 'workerd.capnp'),
    doStorageDir: path.join(dir, 'do'),
    address: '127.0.0.1:0',
    env,
    secretNames: ['ADMIN_TOKEN'],
    cwd: dir,
    logFile: path.join(dir, 'gateway.log'),
  });
  children.push({ child: workerd.child, graceMs: 3000 });
  const { url } = workerd;
  await waitForHealthy(url, 15_000);
  const seeded = await ensureSeeded(url, adminToken, { adminToken });
  const limitedKey = await createLimitedKey(url, adminToken);
  return { url, apiKey: seeded.state.demoKey.key, limitedKey, nodeToken: seeded.state.nodeToken.token };
}

/**
 * A key with every limit set, far above what the run can reach: the same path as the demo key
 * (which has none) plus the limiter's work, so the two together show what admission costs.
 */
async function createLimitedKey(url: string, adminToken: string): Promise<string> {
  const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const tenants = (await (await fetch(`${url}/admin/api/tenants`, { headers })).json()) as {
    data: Array<{ id: string }>;
  };
  const limits = { rpm: 1e9, tpm: 1e12, concurrency: 1e6, tokensPerDay: 1e12, tokensPerMonth: 1e12 };
  const response = await fetch(`${url}/admin/api/tenants/${tenants.data[0]!.id}/keys`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: 'bench-limited', limits }),
  });
  if (response.status !== 201)
    throw new Error(`limited key: HTTP ${response.status} ${await response.text()}`);
  return ((await response.json()) as { key: string }).key;
}

async function startAgent(dir: string, gateway: { url: string; apiKey: string; nodeToken: string }) {
  const agentPort = await freePort();
  const config = {
    gateway: { url: gateway.url, nodeToken: gateway.nodeToken },
    node: {
      name: 'bench',
      listen: { host: '127.0.0.1', port: agentPort },
      publicUrl: `http://127.0.0.1:${agentPort}`,
    },
    heartbeatIntervalMs: 1000,
    drainTimeoutMs: 1000,
    logDir: path.join(dir, 'agent-logs'),
    engines: [
      {
        id: MODEL,
        kind: 'sim',
        model: MODEL,
        port: await freePort(),
        // The adapter passes maxConcurrency as --max-batch.
        maxConcurrency: MAX_BATCH,
        args: ['--time-scale', '0'],
      },
    ],
  };
  const configFile = path.join(dir, 'agent.yaml');
  fs.writeFileSync(configFile, stringify(config), { mode: 0o600 });
  const agentMain = path.join(root, 'gpu-node', 'bin', 'gpu-node.js');
  const agent = spawnManaged('node agent', process.execPath, [agentMain, 'start', '--config', configFile], {
    cwd: root,
    env: process.env,
    logFile: path.join(dir, 'agent.log'),
  });
  children.push({ child: agent, graceMs: 10_000 });
  await waitForModels(gateway.url, gateway.apiKey, [MODEL], 30_000, () => {}).catch((error: unknown) => {
    throw new Error(`the agent's engine was never listed:\n${tailLog(agent.logFile)}`, { cause: error });
  });
}

function killEverything(): void {
  for (const pid of ourProcesses()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Newest first, so the agent drains and stops its engine while the gateway is still up. */
async function stopAll(): Promise<void> {
  for (const { child, graceMs } of children.reverse()) await child.stop(graceMs);
  children.length = 0;
}

function report(rows: Array<{ c: Case; direct: Measurement; gateway: Measurement }>): void {
  const ms = (value: number) => value.toFixed(2);
  const table = [
    [
      'case',
      'direct req/s',
      'p50 ms',
      'p99 ms',
      'gateway req/s',
      'p50 ms',
      'p99 ms',
      'gw/direct req/s',
      'added p50 ms',
    ],
    ...rows.map(({ c, direct, gateway }) => [
      `${c.name}, ${c.connections} conn`,
      direct.rps.toFixed(0),
      ms(direct.p50),
      ms(direct.p99),
      gateway.rps.toFixed(0),
      ms(gateway.p50),
      ms(gateway.p99),
      `${((gateway.rps / direct.rps) * 100).toFixed(1)}%`,
      ms(gateway.p50 - direct.p50),
    ]),
  ];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  console.log(
    `\nPOST /v1/chat/completions, max_tokens 16, instant simulators (--time-scale 0); autocannon ${seconds} s per figure after ${warmupSeconds} s warm-up; ${os.cpus().length} cores shared by client, gateway, agent and engines`,
  );
  for (const row of table) {
    console.log(
      row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | '),
    );
  }
}

async function main(dir: string): Promise<void> {
  progress(`state folder ${dir}`);
  progress('starting the direct simulator');
  const directUrl = await startDirectSimulator(dir);
  progress('bundling the Worker and starting the gateway on plain workerd');
  const gateway = await startGateway(dir);
  progress(`gateway at ${gateway.url}; starting the node agent with one instant simulator`);
  await startAgent(dir, gateway);
  ourProcesses();
  progress(`${MODEL} is listed at the gateway; measuring`);

  const targets = {
    direct: { url: directUrl, key: null },
    gateway: { url: gateway.url, key: gateway.apiKey },
  };
  for (const target of Object.values(targets)) {
    await checkAnswers(target.url, target.key);
    await measure(target.url, target.key, { name: 'warm-up', connections: 8, stream: false }, warmupSeconds);
  }
  const rows = [];
  for (const c of CASES) {
    const direct = await measure(targets.direct.url, null, c, seconds);
    progress(`direct,  ${c.name}, ${c.connections} conn: ${direct.rps.toFixed(0)} req/s`);
    const through = await measure(targets.gateway.url, targets.gateway.key, c, seconds);
    progress(`gateway, ${c.name}, ${c.connections} conn: ${through.rps.toFixed(0)} req/s`);
    rows.push({ c, direct, gateway: through });
  }
  const admission = await measureAdmission(gateway);
  progress('stopping the agent, the gateway and the simulator');
  await stopAll();
  report(rows);
  reportAdmission(admission);
}

/** The same one-connection case with the unlimited and the limited key, alternating, twice each. */
async function measureAdmission(gateway: { url: string; apiKey: string; limitedKey: string }) {
  const c: Case = { name: 'non-stream', connections: 1, stream: false };
  const runs: { unlimited: Measurement[]; limited: Measurement[] } = { unlimited: [], limited: [] };
  for (let round = 0; round < 2; round++) {
    runs.unlimited.push(await measure(gateway.url, gateway.apiKey, c, seconds));
    runs.limited.push(await measure(gateway.url, gateway.limitedKey, c, seconds));
    progress(
      `admission round ${round + 1}: unlimited p50 ${runs.unlimited.at(-1)!.p50.toFixed(2)} ms, limited p50 ${runs.limited.at(-1)!.p50.toFixed(2)} ms`,
    );
  }
  return runs;
}

function reportAdmission(runs: { unlimited: Measurement[]; limited: Measurement[] }): void {
  const mean = (list: Measurement[], pick: (m: Measurement) => number) =>
    list.reduce((sum, m) => sum + pick(m), 0) / list.length;
  const p50 = { unlimited: mean(runs.unlimited, (m) => m.p50), limited: mean(runs.limited, (m) => m.p50) };
  const rps = { unlimited: mean(runs.unlimited, (m) => m.rps), limited: mean(runs.limited, (m) => m.rps) };
  console.log(
    `\nAdmission (the key's limits: rpm, tpm, concurrency, daily and monthly quotas), non-stream, 1 conn, alternating, 2 × ${seconds} s each:`,
  );
  console.log(
    `  key without limits: p50 ${p50.unlimited.toFixed(2)} ms, ${rps.unlimited.toFixed(0)} req/s; with every limit: p50 ${p50.limited.toFixed(2)} ms, ${rps.limited.toFixed(0)} req/s`,
  );
  console.log(
    `  admission adds ${(p50.limited - p50.unlimited).toFixed(2)} ms to p50 (${((rps.limited / rps.unlimited) * 100).toFixed(1)}% of the throughput without limits)`,
  );
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-overhead-'));
/** The logs are worth keeping when something went wrong. */
let keepDir = true;
process.on('exit', () => {
  killEverything();
  if (keepDir) console.error(`[gateway-overhead] logs kept in ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
const watchdog = setTimeout(() => {
  console.error(`[gateway-overhead] gave up after ${WATCHDOG_MS / 1000} s`);
  process.exit(1);
}, WATCHDOG_MS);

try {
  await main(dir);
  clearTimeout(watchdog);
  const left = ourProcesses();
  if (left.length > 0) throw new Error(`processes left behind: ${left.join(', ')}`);
  keepDir = false;
  process.exit(0);
} catch (error) {
  console.error('[gateway-overhead] failed:', error);
  await stopAll().catch(() => {});
  process.exit(1);
}
