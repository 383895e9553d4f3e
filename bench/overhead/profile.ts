/**
 * Where the time goes on the switchyard path under load. Starts the gateway as `npm start` does
 * but with workerd's `--inspector-addr`, and the node agent under `node --cpu-prof`, drives
 * non-stream and then streamed chat through them with autocannon, and takes a CPU profile of
 * the gateway's isolate (the Worker and every Durable Object run in it) over the Chrome
 * DevTools protocol for each. Prints self time by category, by source module and by function
 * for the gateway (bundle lines mapped back to their modules) and for the agent, and keeps the
 * .cpuprofile files (Chrome DevTools → Performance → Load profile) in the folder it prints.
 *
 *   npm run bench:profile [-- --seconds 8 --connections 16 --interval 100]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../../gpu-node/index.ts';
import type { Bundle } from '../../scripts/bundle.ts';
import { ensureSeeded, waitForHealthy } from '../../scripts/seed-gateway.ts';
import { generateWorkerdConfig } from '../../scripts/workerd-config.ts';
import { workerdPackage } from '../../scripts/workerd-process.ts';
import {
  Cdp,
  bundleModuleMap,
  fileModuleMap,
  groupBy,
  profileDuring,
  selfTimes,
  type CpuProfile,
  type SelfTime,
} from './cpu-profile.ts';
import { Harness, describeLoad, describeMachine, root } from './harness.ts';
import { closedLoop } from './load.ts';
import {
  INSTANT_BODIES,
  MODEL,
  bundleGateway,
  createLimitedKey,
  startAgent,
  startSimulator,
} from './systems.ts';
import { fixed, printTable } from './table.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '16' },
    interval: { type: 'string', default: '100' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const intervalUs = Number(values.interval);
const MODES = ['non-stream', 'stream'] as const;

const h = new Harness('profile');

async function startProfiledGateway(bundle: Bundle) {
  const wranglerToml = fs.readFileSync(path.join(root, 'wrangler.toml'), 'utf8');
  const port = await freePort();
  const inspector = `127.0.0.1:${await freePort()}`;
  const adminToken = `adm_${crypto.randomBytes(24).toString('base64url')}`;
  const env = { ...process.env, ALLOW_PRIVATE_NODE_URLS: 'true', ADMIN_TOKEN: adminToken };
  const configPath = path.join(h.dir, 'gateway.capnp');
  const doStorageDir = path.join(h.dir, 'gateway-objects');
  fs.mkdirSync(doStorageDir, { recursive: true });
  fs.writeFileSync(
    configPath,
    generateWorkerdConfig({
      wranglerToml,
      configDir: h.dir,
      bundleDir: bundle.dir,
      modules: bundle.modules,
      doStorageDir,
      address: `127.0.0.1:${port}`,
      env,
      secretNames: ['ADMIN_TOKEN'],
      maxCompatibilityDate: workerdPackage().compatibilityDate,
    }),
  );
  h.spawn(
    'gateway',
    workerdPackage().default,
    ['serve', configPath, '--experimental', `--inspector-addr=${inspector}`],
    { env },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHealthy(url, 15_000);
  const seeded = await ensureSeeded(url, adminToken, { adminToken });
  return {
    url,
    inspector,
    apiKey: seeded.state.demoKey.key,
    limitedKey: await createLimitedKey(url, adminToken),
    nodeToken: seeded.state.nodeToken.token,
  };
}

/** What a self-time entry is, in the terms of issue 11's list. */
function category(t: SelfTime): string {
  const { name, module } = t;
  if (module === '(idle)') return 'idle';
  if (module === '(program)') return 'runtime outside JS (HTTP, streams, RPC, SQLite engine)';
  if (module === '(garbage collector)') return 'garbage collection';
  if (module === 'src/credentials.ts' || /digest|sha256|hmac|importKey|secretsMatch|idSignedWith/i.test(name))
    return 'auth hashing';
  if (module.startsWith('node_modules/zod')) return 'zod validation';
  if (module === '(native)' && (name === 'parse' || name === 'stringify')) return `JSON.${name}`;
  if (module === '(native)' && /^(exec|toArray|one|next|raw)$/.test(name))
    return 'SQLite calls (sql.exec, cursors)';
  if (
    module.startsWith('workers/objects/') ||
    module.startsWith('src/limits') ||
    module.startsWith('src/routing') ||
    module.startsWith('src/keys')
  )
    return 'Durable Object code (admission, pick, release)';
  if (/relay-stream|usage-meter|src\/sse|src\/usage/.test(module))
    return 'relay and usage metering (per chunk)';
  if (/read-json|client-body|json-depth|request-schemas/.test(module)) return 'reading the JSON body';
  if (/header/i.test(name)) return 'header copying';
  if (module.startsWith('node_modules/hono')) return 'hono (router, context)';
  if (module.startsWith('workers/gateway/')) return 'gateway code (other)';
  if (module.startsWith('node:')) return nodeCategory(module);
  if (module.startsWith('gpu-node/'))
    return module === 'gpu-node/proxy.ts' ? 'agent: proxy code' : 'agent: other code';
  if (module.startsWith('node_modules/pino')) return 'logging (pino)';
  if (module.startsWith('node_modules/prom-client')) return 'metrics (prom-client)';
  if (module === '(native)' && /^write/.test(name)) return 'socket writes';
  return module === '(native)' ? `native ${name}` : module;
}

/** Node's own modules, for the agent's profile. */
function nodeCategory(module: string): string {
  if (/_http_|[/:]http$/.test(module)) return 'node http (parse, headers, write)';
  if (/crypto/.test(module)) return 'crypto (the node credential check)';
  if (/child_process/.test(module)) return 'spawning processes';
  if (/undici/.test(module)) return 'undici fetch (scrapes, heartbeats)';
  if (/streams|stream_base|pipeline/.test(module)) return 'node streams';
  if (/[/:]net$|dns/.test(module)) return 'sockets';
  if (/events|task_queues|async_hooks|timers|promises/.test(module))
    return 'event loop (events, ticks, timers)';
  if (/domexception|abort/.test(module)) return 'DOMException, AbortSignal';
  return 'node (other)';
}

function report(title: string, times: SelfTime[], requests: number, top = 25): void {
  const sampled = times.reduce((sum, t) => sum + t.ms, 0);
  const busy = times.filter((t) => t.module !== '(idle)').reduce((sum, t) => sum + t.ms, 0);
  console.log(
    `\n== ${title}: ${(sampled / 1000).toFixed(1)} s sampled, ${busy.toFixed(0)} ms not idle, ${requests} requests (${(busy / requests).toFixed(3)} ms per request)`,
  );
  const share = (ms: number) => `${((ms / busy) * 100).toFixed(1)}%`;
  const perRequest = (ms: number) => fixed(1)((ms * 1000) / requests);
  const categories = groupBy(times, category).filter((g) => g.key !== 'idle');
  const rest = categories.slice(15).reduce((sum, g) => sum + g.ms, 0);
  printTable(
    'by category (shares of the time not idle)',
    ['category', 'self ms', 'share', 'µs/request'],
    [
      ...categories.slice(0, 15).map((g) => [g.key, fixed(0)(g.ms), share(g.ms), perRequest(g.ms)]),
      ...(rest > 0 ? [['(the rest)', fixed(0)(rest), share(rest), perRequest(rest)]] : []),
    ],
  );
  printTable(
    'by source module (top 15)',
    ['module', 'self ms', 'share'],
    groupBy(times, (t) => t.module)
      .filter((g) => g.key !== '(idle)')
      .slice(0, 15)
      .map((g) => [g.key, fixed(0)(g.ms), share(g.ms)]),
  );
  printTable(
    `by function (top ${top})`,
    ['function', 'module', 'self ms', 'share', 'µs/request'],
    times
      .filter((t) => t.module !== '(idle)')
      .slice(0, top)
      .map((t) => [t.name, t.module, fixed(0)(t.ms), share(t.ms), perRequest(t.ms)]),
  );
}

async function main(): Promise<void> {
  h.progress(`folder ${h.dir}; starting the instant engine`);
  const instantUrl = await startSimulator(h, 'sim-instant', MODEL, ['--time-scale', '0']);
  h.progress('bundling the Worker; starting the gateway with --inspector-addr');
  const bundle = await bundleGateway(h);
  const gateway = await startProfiledGateway(bundle);
  const profileDir = path.join(h.dir, 'agent-profile');
  h.progress('starting the node agent under --cpu-prof');
  const agent = await startAgent(
    h,
    'agent',
    gateway,
    [{ id: 'instant', model: MODEL, url: instantUrl }],
    ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-interval', String(intervalUs)],
  );
  const target = {
    url: `${gateway.url}/v1/chat/completions`,
    headers: { authorization: `Bearer ${gateway.limitedKey}` },
  };
  for (const mode of MODES) await closedLoop(target, INSTANT_BODIES[mode], 8, 2);

  const cdp = await Cdp.connect(gateway.inspector);
  const moduleOf = bundleModuleMap(path.join(bundle.dir, bundle.modules[0]!));
  const results = [];
  let agentRequests = 0;
  const loadStarted = performance.now();
  for (const mode of MODES) {
    h.progress(`profiling ${mode}, ${connections} connections, ${seconds} s`);
    let requests = 0;
    const profile = await profileDuring(cdp, intervalUs, async () => {
      requests = (await closedLoop(target, INSTANT_BODIES[mode], connections, seconds)).requests;
    });
    agentRequests += requests;
    fs.writeFileSync(path.join(h.dir, `gateway-${mode}.cpuprofile`), JSON.stringify(profile));
    results.push({ mode, profile, requests });
  }
  cdp.close();
  const loadEnded = performance.now();
  h.progress('stopping the agent so that it writes its profile');
  await h.stop(agent.child);
  const agentExited = performance.now();
  await h.stopAll();

  console.log(`\nMachine: ${describeMachine()}; ${describeLoad(h)}.`);
  console.log(
    `Load: POST /v1/chat/completions through the gateway (key with every limit set) → agent → instant engine, autocannon ${connections} connections, ${seconds} s per kind; V8 sampling every ${intervalUs} µs.`,
  );
  for (const { mode, profile, requests } of results) {
    report(`gateway (workerd: Worker and Durable Objects), ${mode}`, selfTimes(profile, moduleOf), requests);
  }
  const file = fs.readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`the agent wrote no profile to ${profileDir}`);
  const agentProfile = JSON.parse(fs.readFileSync(path.join(profileDir, file), 'utf8')) as CpuProfile;
  // The agent profiles its whole life; keep the load windows, counted back from its exit.
  const window = {
    from: agentProfile.endTime - (agentExited - loadStarted) * 1000,
    to: agentProfile.endTime - (agentExited - loadEnded) * 1000,
  };
  report(
    'node agent (the load windows of both kinds)',
    selfTimes(agentProfile, fileModuleMap(root), window),
    agentRequests,
  );
  console.log(`\nProfiles (Chrome DevTools → Performance → Load profile): ${h.dir}`);
}

await h.run(main, { watchdogMs: 180_000 + 2 * seconds * 1000, keep: true });
