/**
 * Starts what bench/overhead compares, all on 127.0.0.1: the engines (one instant simulator,
 * one paced simulator behind the chunk tap), the gateway exactly as `npm start` serves it (same
 * bundle, workerd config and seeding), a node agent fronting both engines, the bare proxy on
 * the same plain workerd, and Portkey's gateway as the peer.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from '../../gpu-node/index.ts';
import { bundleWorker, type Bundle } from '../../scripts/bundle.ts';
import type { ManagedChild } from '../../scripts/child-processes.ts';
import { ensureSeeded, waitForHealthy, waitForModels } from '../../scripts/seed-gateway.ts';
import { serveGateway } from '../../scripts/serve-gateway.ts';
import { generateWorkerdConfig, parseWranglerToml } from '../../scripts/workerd-config.ts';
import { startWorkerd, workerdPackage } from '../../scripts/workerd-process.ts';
import { ChunkTap } from './chunk-tap.ts';
import { root, waitForHttp, type Harness } from './harness.ts';

export const MODEL = 'bench-sim';
export const PACED_MODEL = 'bench-sim-paced';
/** Batch slots of the simulators and the agent's maxConcurrency: far above any connection count. */
export const MAX_BATCH = 256;
/** The paced engine's decode step: one SSE chunk per token, this far apart. */
export const PACED_MS_PER_TOKEN = 2;
/** Completion tokens asked for: a short answer, a stream of many small chunks, a paced stream. */
export const TOKENS = { 'non-stream': 16, stream: 64, paced: 32 };

/** The benchmarks' chat request: the same prompt everywhere, streamed with usage or not. */
export function chatBody(model: string, stream: boolean, maxTokens: number): string {
  return JSON.stringify({
    model,
    messages: [{ role: 'user', content: 'Say hello to the benchmark.' }],
    max_tokens: maxTokens,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

/** A non-stream and a streamed chat request to the instant engine. */
export const INSTANT_BODIES = {
  'non-stream': chatBody(MODEL, false, TOKENS['non-stream']),
  stream: chatBody(MODEL, true, TOKENS.stream),
};
const simMain = path.join(root, 'gpu-node', 'sim', 'main.ts');
const agentMain = path.join(root, 'gpu-node', 'bin', 'gpu-node.js');

export interface Engines {
  instantUrl: string;
  /** The paced simulator, through the tap. */
  pacedUrl: string;
  tap: ChunkTap;
}

export async function startEngines(h: Harness): Promise<Engines> {
  const instantUrl = await startSimulator(h, 'sim-instant', MODEL, ['--time-scale', '0']);
  const pacedSimUrl = await startSimulator(h, 'sim-paced', PACED_MODEL, [
    '--time-scale',
    '1',
    '--decode-ms-per-token',
    String(PACED_MS_PER_TOKEN),
    '--decode-ms-per-token-per-extra-seq',
    '0',
    '--prefill-tokens-per-s',
    '1000000000',
  ]);
  const tap = new ChunkTap(pacedSimUrl);
  return { instantUrl, pacedUrl: await tap.listen(), tap };
}

export async function startSimulator(
  h: Harness,
  name: string,
  model: string,
  flags: string[],
  nodeArgs: string[] = [],
): Promise<string> {
  const port = await freePort();
  const args = [simMain, '--port', String(port), '--served-model-name', model, '--engine-id', name];
  const child = h.spawn(name, process.execPath, [
    ...nodeArgs,
    ...args,
    '--max-batch',
    String(MAX_BATCH),
    ...flags,
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, child);
  return url;
}

export interface Gateway {
  url: string;
  adminToken: string;
  /** The demo key `npm start` seeds: no limits. */
  apiKey: string;
  /** A key with every limit set, far above what the run reaches: what the figures use. */
  limitedKey: string;
  nodeToken: string;
  bundle: Bundle;
  child: ManagedChild;
  /** Where its Durable Objects keep their SQLite files. */
  objectsDir: string;
}

/** The single-file agent GPU owners install (`npm run build:agent`); its path. */
export function buildAgent(h: Harness): string {
  h.progress('building the single-file agent (npm run build:agent)');
  execFileSync(process.execPath, [path.join(root, 'gpu-node', 'build.ts')], { cwd: root, stdio: 'ignore' });
  return path.join(root, 'dist', 'gpu-node', 'gpu-node.mjs');
}

export async function bundleGateway(h: Harness): Promise<Bundle> {
  const wranglerToml = fs.readFileSync(path.join(root, 'wrangler.toml'), 'utf8');
  return bundleWorker(root, path.join(h.dir, 'gateway-bundle'), parseWranglerToml(wranglerToml).main);
}

/**
 * The gateway as `npm start` runs it: same bundle, config and seeding, on a fixed port (for
 * restarts). Its objects' SQLite goes under `objectsParent` when given (tmpfs takes the disk's
 * sync out of the figures), else in the run's folder.
 */
export async function startGateway(h: Harness, bundle: Bundle, objectsParent?: string): Promise<Gateway> {
  const adminToken = `adm_${crypto.randomBytes(24).toString('base64url')}`;
  const port = await freePort();
  const objectsDir = objectsParent
    ? h.folderIn(objectsParent, 'objects')
    : path.join(h.dir, 'gateway-objects');
  const child = await serveBundle(h, bundle, port, adminToken, objectsDir);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealthy(url, 15_000);
  const seeded = await ensureSeeded(url, adminToken, { adminToken });
  const limitedKey = await createLimitedKey(url, adminToken);
  return {
    url,
    adminToken,
    apiKey: seeded.state.demoKey.key,
    limitedKey,
    nodeToken: seeded.state.nodeToken.token,
    bundle,
    child,
    objectsDir,
  };
}

/**
 * Stops the gateway's workerd and starts it again on the same port and storage: how long
 * until it listens, until its first answer (the isolate compiles the bundle), and the first
 * chat completion after that (every Durable Object on the path starts from its SQLite).
 */
export async function restartGateway(
  h: Harness,
  gateway: Gateway,
  chat: () => Promise<number>,
): Promise<{ listenMs: number; firstAnswerMs: number; firstChatMs: number; secondChatMs: number }> {
  await h.stop(gateway.child);
  const port = Number(new URL(gateway.url).port);
  const started = performance.now();
  gateway.child = await serveBundle(h, gateway.bundle, port, gateway.adminToken, gateway.objectsDir, true);
  const listening = performance.now();
  const response = await fetch(`${gateway.url}/healthz`);
  await response.arrayBuffer();
  const answered = performance.now();
  if (response.status !== 200) throw new Error(`/healthz after a restart: HTTP ${response.status}`);
  const firstChatMs = await chat();
  const secondChatMs = await chat();
  return { listenMs: listening - started, firstAnswerMs: answered - listening, firstChatMs, secondChatMs };
}

async function serveBundle(
  h: Harness,
  bundle: Bundle,
  port: number,
  adminToken: string,
  objectsDir: string,
  appendLog = false,
): Promise<ManagedChild> {
  const wranglerToml = fs.readFileSync(path.join(root, 'wrangler.toml'), 'utf8');
  const workerd = await serveGateway({
    wranglerToml,
    bundle,
    configPath: path.join(h.dir, 'gateway.capnp'),
    doStorageDir: objectsDir,
    address: `127.0.0.1:${port}`,
    // The agent listens on loopback, which a deployed gateway refuses as a node URL.
    env: { ...process.env, ALLOW_PRIVATE_NODE_URLS: 'true', ADMIN_TOKEN: adminToken },
    secretNames: ['ADMIN_TOKEN'],
    cwd: h.dir,
    logFile: h.logFile('gateway'),
    appendLog,
  });
  h.adopt(workerd.child, 3000);
  return workerd.child;
}

/** A key with every limit set, so admission does all its work on every request. */
export async function createLimitedKey(url: string, adminToken: string): Promise<string> {
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

export interface Agent {
  child: ManagedChild;
  /** The agent's proxy, as the gateway calls it. */
  url: string;
  /** The node credential the gateway issued (the agent checks it on every proxied call). */
  credential: string;
}

export interface AgentEngine {
  id: string;
  model: string;
  /** An external engine's URL; absent for a simulator the agent launches itself. */
  url?: string;
  args?: string[];
}

/**
 * A node agent registered with `gateway`, through a small relay in this process that reads
 * the credential out of the registration answer: the benchmark calls the agent's proxy
 * directly with it, to measure the agent alone.
 */
export async function startAgent(
  h: Harness,
  name: string,
  gateway: { url: string; apiKey: string; nodeToken: string },
  engines: AgentEngine[],
  nodeArgs: string[] = [],
  main = agentMain,
): Promise<Agent> {
  const relay = await credentialRelay(gateway.url);
  const port = await freePort();
  const config = {
    gateway: { url: relay.url, nodeToken: gateway.nodeToken },
    node: { name, listen: { host: '127.0.0.1', port }, publicUrl: `http://127.0.0.1:${port}` },
    heartbeatIntervalMs: 1000,
    drainTimeoutMs: 1000,
    logDir: path.join(h.dir, `${name}-logs`),
    engines: await Promise.all(
      engines.map(async (engine) =>
        engine.url
          ? {
              id: engine.id,
              kind: 'external',
              model: engine.model,
              url: engine.url,
              port: Number(new URL(engine.url).port),
              maxConcurrency: MAX_BATCH,
            }
          : {
              id: engine.id,
              kind: 'sim',
              model: engine.model,
              port: await freePort(),
              maxConcurrency: MAX_BATCH,
              args: engine.args ?? ['--time-scale', '0'],
            },
      ),
    ),
  };
  const configFile = path.join(h.dir, `${name}.yaml`);
  fs.writeFileSync(configFile, stringify(config), { mode: 0o600 });
  // No metrics listener: its default port is one per machine, and other agents may hold it.
  const child = h.spawn(
    name,
    process.execPath,
    [...nodeArgs, main, 'start', '--config', configFile, '--metrics-listen', 'off'],
    { graceMs: 10_000 },
  );
  const models = [...new Set(engines.map((engine) => engine.model))];
  await waitForModels(gateway.url, gateway.apiKey, models, 60_000, () => {}).catch((error: unknown) => {
    throw new Error(`${name}'s engines were never listed; see ${child.logFile}`, { cause: error });
  });
  h.rememberPids();
  return { child, url: `http://127.0.0.1:${port}`, credential: await relay.credential };
}

/** Passes the agent's calls to the gateway and keeps the credential of its registration. */
async function credentialRelay(gatewayUrl: string): Promise<{ url: string; credential: Promise<string> }> {
  let found: (credential: string) => void = () => {};
  const credential = new Promise<string>((resolve) => (found = resolve));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'content-type', 'accept', 'user-agent']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      fetch(`${gatewayUrl}${req.url ?? '/'}`, { method: req.method, headers, body })
        .then(async (answer) => {
          const text = Buffer.from(await answer.arrayBuffer());
          if (req.url === '/nodes/register' && answer.status === 201) {
            found((JSON.parse(text.toString()) as { credential: string }).credential);
          }
          res.writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? 'application/json',
          });
          res.end(text);
        })
        .catch(() => res.writeHead(502).end());
    });
  });
  server.unref();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, credential };
}

/** The bare proxy, bundled by wrangler like the gateway, on plain workerd. */
export async function startBareProxy(
  h: Harness,
  engines: Engines,
): Promise<{
  url: string;
  bytes: number;
  child: () => ManagedChild;
  restart: () => Promise<{ listenMs: number; firstAnswerMs: number }>;
}> {
  const dir = path.join(h.dir, 'bare');
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  fs.copyFileSync(path.join(import.meta.dirname, 'bare-worker.ts'), path.join(dir, 'bare-worker.ts'));
  const wranglerToml = [
    'name = "bare-proxy"',
    'main = "bare-worker.ts"',
    'compatibility_date = "2026-11-01"',
    '[vars]',
    `INSTANT_URL = "${engines.instantUrl}"`,
    `PACED_URL = "${engines.pacedUrl}"`,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'wrangler.toml'), wranglerToml);
  const bundle = await bundleWorker(dir, path.join(dir, 'bundle'), 'bare-worker.ts');
  const port = await freePort();
  const configPath = path.join(dir, 'workerd.capnp');
  fs.writeFileSync(
    configPath,
    generateWorkerdConfig({
      wranglerToml,
      configDir: dir,
      bundleDir: bundle.dir,
      modules: bundle.modules,
      doStorageDir: path.join(dir, 'objects'),
      address: `127.0.0.1:${port}`,
      env: {},
      secretNames: [],
      maxCompatibilityDate: workerdPackage().compatibilityDate,
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  let child: ManagedChild | undefined;
  const start = async () => {
    const workerd = await startWorkerd({
      configPath,
      cwd: dir,
      env: process.env,
      logFile: h.logFile('bare-proxy'),
      appendLog: child !== undefined,
    });
    h.adopt(workerd.child, 3000);
    child = workerd.child;
  };
  await start();
  return {
    url,
    bytes: bundle.bytes,
    child: () => child!,
    async restart() {
      await h.stop(child!);
      const started = performance.now();
      await start();
      const listening = performance.now();
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }),
      });
      await response.arrayBuffer();
      return { listenMs: listening - started, firstAnswerMs: performance.now() - listening };
    },
  };
}

/** Portkey's open-source gateway (npm @portkey-ai/gateway), headless, with its streaming fix preloaded. */
export async function startPeer(h: Harness): Promise<{ url: string; child: ManagedChild }> {
  const port = await freePort();
  const start = path.join(root, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  if (!fs.existsSync(start)) throw new Error('@portkey-ai/gateway is not installed: run `npm install`');
  const shim = pathToFileURL(path.join(import.meta.dirname, 'peer-fetch-shim.ts')).href;
  const child = h.spawn('peer-portkey', process.execPath, [
    '--import',
    shim,
    start,
    `--port=${port}`,
    '--headless',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(url, child, 30_000);
  return { url, child };
}
