/**
 * Starts and stops what the benchmark measures, all on 127.0.0.1 in one temporary folder: the
 * simulators (launched here with the scenario's flags, so their /metrics pages can be read),
 * the gateway bundled and served as `npm start` serves it, and node agents that front the
 * simulators as external engines.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { freePort } from '../../gpu-node/index.ts';
import { bundleWorker, type Bundle } from '../../scripts/bundle.ts';
import { spawnManaged, tailLog, type ManagedChild } from '../../scripts/child-processes.ts';
import { ensureSeeded, waitForHealthy } from '../../scripts/seed-gateway.ts';
import { serveGateway } from '../../scripts/serve-gateway.ts';
import { generateWorkerdConfig, parseWranglerToml } from '../../scripts/workerd-config.ts';
import { startWorkerd, workerdPackage } from '../../scripts/workerd-process.ts';
import type { RoutingPolicy } from '../../src/routing/policies.ts';
import { ENGINES, MODEL } from './scenario.ts';
import { withSecondEdge } from './two-edges.ts';

const root = path.resolve(import.meta.dirname, '../..');
const simMain = path.join(root, 'gpu-node', 'sim', 'main.ts');
const agentMain = path.join(root, 'gpu-node', 'bin', 'gpu-node.js');

export interface Gateway {
  urls: string[];
  adminToken: string;
  apiKey: string;
  nodeToken: string;
}

export class Fleet {
  readonly dir: string;
  private readonly children: Array<{ child: ManagedChild; graceMs: number }> = [];
  private bundle?: Bundle;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** One simulator per scenario engine; returns their URLs, in ENGINES order. */
  async startSimulators(): Promise<string[]> {
    return Promise.all(
      ENGINES.map(async (engine) => {
        const port = await freePort();
        const flags = Object.entries(engine.flags).flatMap(([flag, value]) => [`--${flag}`, String(value)]);
        const args = [
          simMain,
          '--port',
          String(port),
          '--served-model-name',
          MODEL,
          '--engine-id',
          engine.id,
        ];
        const child = this.spawn(`sim ${engine.id}`, [
          ...args,
          '--max-batch',
          String(engine.maxBatch),
          ...flags,
        ]);
        const url = `http://127.0.0.1:${port}`;
        await waitForHttp(`${url}/health`, child);
        return url;
      }),
    );
  }

  /**
   * A gateway on plain workerd, seeded with a key and a node token. With `edges: 2`, two Worker
   * services in one workerd share its Durable Objects (two edges, one index); two gateways
   * started under different names share nothing (two edges, two indexes).
   */
  async startGateway(name: string, edges: 1 | 2 = 1): Promise<Gateway> {
    const wranglerToml = fs.readFileSync(path.join(root, 'wrangler.toml'), 'utf8');
    this.bundle ??= await bundleWorker(
      root,
      path.join(this.dir, 'bundle'),
      parseWranglerToml(wranglerToml).main,
    );
    const adminToken = `adm_${crypto.randomBytes(24).toString('base64url')}`;
    // The simulators and agents listen on loopback, which a deployed gateway refuses as a node URL.
    const env = { ...process.env, ADMIN_TOKEN: adminToken, ALLOW_PRIVATE_NODE_URLS: 'true' };
    const common = {
      configPath: path.join(this.dir, `${name}.capnp`),
      doStorageDir: path.join(this.dir, `${name}-objects`),
      env,
      cwd: this.dir,
      logFile: path.join(this.dir, `${name}.log`),
    };
    const urls: string[] = [];
    if (edges === 1) {
      const workerd = await serveGateway({
        ...common,
        wranglerToml,
        bundle: this.bundle,
        address: '127.0.0.1:0',
        secretNames: ['ADMIN_TOKEN'],
      });
      this.children.push({ child: workerd.child, graceMs: 3000 });
      urls.push(workerd.url);
    } else {
      const edgeBPort = await freePort();
      fs.mkdirSync(common.doStorageDir, { recursive: true });
      const config = generateWorkerdConfig({
        wranglerToml,
        configDir: this.dir,
        bundleDir: this.bundle.dir,
        modules: this.bundle.modules,
        doStorageDir: common.doStorageDir,
        address: '127.0.0.1:0',
        env,
        secretNames: ['ADMIN_TOKEN'],
        maxCompatibilityDate: workerdPackage().compatibilityDate,
      });
      const workerName = parseWranglerToml(wranglerToml).name;
      fs.writeFileSync(common.configPath, withSecondEdge(config, workerName, `127.0.0.1:${edgeBPort}`));
      const workerd = await startWorkerd(common);
      this.children.push({ child: workerd.child, graceMs: 3000 });
      urls.push(`http://127.0.0.1:${workerd.port}`, `http://127.0.0.1:${edgeBPort}`);
    }
    for (const url of urls) await waitForHealthy(url, 15_000);
    const seeded = await ensureSeeded(urls[0]!, adminToken, { adminToken });
    return { urls, adminToken, apiKey: seeded.state.demoKey.key, nodeToken: seeded.state.nodeToken.token };
  }

  /** A node agent fronting every simulator as an external engine, registered with `gateway`. */
  async startAgent(name: string, gateway: Gateway, simulatorUrls: string[]): Promise<void> {
    const port = await freePort();
    const config = {
      gateway: { url: gateway.urls[0], nodeToken: gateway.nodeToken },
      node: { name, listen: { host: '127.0.0.1', port }, publicUrl: `http://127.0.0.1:${port}` },
      // Reports every second rather than the gateway's 5 s default, for every report-based policy alike.
      heartbeatIntervalMs: 1000,
      drainTimeoutMs: 1000,
      logDir: path.join(this.dir, `${name}-logs`),
      engines: ENGINES.map((engine, i) => ({
        id: engine.id,
        kind: 'external',
        model: MODEL,
        url: simulatorUrls[i],
        port: Number(new URL(simulatorUrls[i]!).port),
        maxConcurrency: engine.maxBatch,
      })),
    };
    const configFile = path.join(this.dir, `${name}.yaml`);
    fs.writeFileSync(configFile, stringify(config), { mode: 0o600 });
    // No metrics listener: the default port is one per machine, and other agents may hold it.
    const agent = this.spawn(name, [agentMain, 'start', '--config', configFile, '--metrics-listen', 'off']);
    this.children[this.children.length - 1]!.graceMs = 10_000;
    await waitForEngines(gateway, ENGINES.length).catch((error: unknown) => {
      throw new Error(`the agent's engines never all became available:\n${tailLog(agent.logFile)}`, {
        cause: error,
      });
    });
  }

  /** Newest first, so agents drain through gateways that are still up. */
  async stop(): Promise<void> {
    for (const { child, graceMs } of this.children.reverse()) await child.stop(graceMs);
    this.children.length = 0;
  }

  private spawn(name: string, args: string[]): ManagedChild {
    const child = spawnManaged(name, process.execPath, args, {
      cwd: root,
      env: process.env,
      logFile: path.join(this.dir, `${name.replace(/\W+/g, '-')}.log`),
    });
    this.children.push({ child, graceMs: 3000 });
    return child;
  }
}

export async function setPolicy(gateway: Gateway, policy: RoutingPolicy): Promise<void> {
  const response = await fetch(`${gateway.urls[0]}/admin/api/pools/${MODEL}/policy`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${gateway.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ policy }),
  });
  if (response.status !== 200)
    throw new Error(`setting the policy: HTTP ${response.status} ${await response.text()}`);
}

/** Waits until the pool lists `count` available engines. */
async function waitForEngines(gateway: Gateway, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const response = await fetch(`${gateway.urls[0]}/admin/api/pools/${MODEL}`, {
      headers: { authorization: `Bearer ${gateway.adminToken}` },
    });
    if (response.status === 200) {
      const { engines } = (await response.json()) as { engines: Array<{ available: boolean }> };
      if (engines.filter((e) => e.available).length >= count) return;
    }
    await sleep(250);
  }
  throw new Error(`fewer than ${count} engines of ${MODEL} became available within 30 s`);
}

async function waitForHttp(url: string, child: ManagedChild): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && child.process.exitCode === null) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(100);
  }
  throw new Error(`${child.name} did not answer ${url}:\n${tailLog(child.logFile)}`);
}
