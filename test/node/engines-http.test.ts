import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineKind } from '../../src/protocol/node-api.ts';
import type { EngineConfig } from '../../gpu-node/engines/engine-adapter.ts';
import { adapterFor, engineBaseUrl } from '../../gpu-node/engines/index.ts';
import { freePort } from '../../gpu-node/index.ts';
import { waitFor } from '../support/wait-for.ts';

const API_KEY = 'engine-key-1';

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/metrics/${name}`, import.meta.url), 'utf8');
}

function engine(kind: EngineKind, overrides: Partial<EngineConfig> = {}): EngineConfig {
  return {
    id: 'e1',
    kind,
    model: 'some/model',
    servedModelName: 'served-name',
    port: 1,
    gpus: [],
    args: [],
    env: {},
    maxConcurrency: 4,
    ...overrides,
  };
}

interface Route {
  status?: number;
  body: string;
}

/**
 * A stand-in engine on 127.0.0.1: answers the given routes, and like llama.cpp and LMDeploy
 * refuses everything but /health without the engine key.
 */
const servers: Server[] = [];
async function fakeEngine(routes: Record<string, Route>): Promise<{ baseUrl: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((request, response) => {
    const path = request.url ?? '/';
    seen.push(path);
    if (path !== '/health' && request.headers.authorization !== `Bearer ${API_KEY}`) {
      response.writeHead(401).end('{"error":"Invalid API Key"}');
      return;
    }
    const route = routes[path];
    if (!route) {
      response.writeHead(404).end('Not Found');
      return;
    }
    response.writeHead(route.status ?? 200).end(route.body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}`, seen };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

const models = (...ids: string[]): Route => ({
  body: JSON.stringify({
    object: 'list',
    data: ids.map((id) => ({ id, object: 'model', owned_by: 'vllm' })),
  }),
});
const signal = () => AbortSignal.timeout(5_000);

describe('probeReady', () => {
  it('is true once /health answers and /v1/models lists the served name', async () => {
    const { baseUrl } = await fakeEngine({
      '/health': { body: '' },
      '/v1/models': models('other', 'served-name'),
    });
    await expect(adapterFor('vllm').probeReady(baseUrl, engine('vllm'), API_KEY, signal())).resolves.toBe(
      true,
    );
  });

  it('is false while the model list lacks the served name', async () => {
    const { baseUrl } = await fakeEngine({ '/health': { body: '' }, '/v1/models': models('other') });
    await expect(adapterFor('sglang').probeReady(baseUrl, engine('sglang'), API_KEY, signal())).resolves.toBe(
      false,
    );
  });

  it('is false while /health answers 503, as llama.cpp does while loading', async () => {
    const { baseUrl, seen } = await fakeEngine({
      '/health': { status: 503, body: '{"error":{"code":503,"message":"Loading model"}}' },
      '/v1/models': models('served-name'),
    });
    await expect(
      adapterFor('llamacpp').probeReady(baseUrl, engine('llamacpp'), API_KEY, signal()),
    ).resolves.toBe(false);
    expect(seen).toEqual(['/health']);
  });

  it('is false when nothing listens, and when the key is wrong', async () => {
    const { baseUrl } = await fakeEngine({ '/health': { body: '' }, '/v1/models': models('served-name') });
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
    await expect(adapterFor('vllm').probeReady(baseUrl, engine('vllm'), API_KEY, signal())).resolves.toBe(
      false,
    );
    const second = await fakeEngine({ '/health': { body: '' }, '/v1/models': models('served-name') });
    await expect(
      adapterFor('vllm').probeReady(second.baseUrl, engine('vllm'), 'wrong', signal()),
    ).resolves.toBe(false);
  });

  it('asks an external engine only for its model list, since not every server has /health', async () => {
    const { baseUrl, seen } = await fakeEngine({ '/v1/models': models('served-name') });
    const external = engine('external', { url: baseUrl });
    await expect(adapterFor('external').probeReady(baseUrl, external, API_KEY, signal())).resolves.toBe(true);
    expect(seen).toEqual(['/v1/models']);
  });
});

describe('scrapeLoad over HTTP', () => {
  const pages: Array<[EngineKind, string, { running: number; waiting: number; kvCacheUsage: number }]> = [
    ['vllm', 'vllm.txt', { running: 12, waiting: 3, kvCacheUsage: 0.375 }],
    ['vllm', 'vllm-legacy.txt', { running: 4, waiting: 2, kvCacheUsage: 0.8125 }],
    ['sim', 'vllm.txt', { running: 12, waiting: 3, kvCacheUsage: 0.375 }],
    ['sglang', 'sglang.txt', { running: 24, waiting: 3, kvCacheUsage: 0.73 }],
    ['lmdeploy', 'lmdeploy.txt', { running: 6, waiting: 1, kvCacheUsage: 0.52 }],
    ['llamacpp', 'llamacpp-legacy.txt', { running: 1, waiting: 0, kvCacheUsage: 0.25 }],
  ];
  it.each(pages)('reads a %s page (%s) from /metrics with the engine key', async (kind, file, load) => {
    const { baseUrl } = await fakeEngine({ '/metrics': { body: fixture(file) } });
    await expect(adapterFor(kind).scrapeLoad(baseUrl, API_KEY, signal())).resolves.toEqual(load);
  });

  it('reads the KV share of a current llama.cpp from /slots when /metrics has no KV gauge', async () => {
    const { baseUrl, seen } = await fakeEngine({
      '/metrics': { body: fixture('llamacpp.txt') },
      '/slots': { body: fixture('llamacpp-slots.json') },
    });
    await expect(adapterFor('llamacpp').scrapeLoad(baseUrl, API_KEY, signal())).resolves.toEqual({
      running: 2,
      waiting: 1,
      kvCacheUsage: 0.1875,
    });
    expect(seen).toEqual(['/metrics', '/slots']);
  });

  it('fails with http_status when llama.cpp runs with --no-slots', async () => {
    const { baseUrl } = await fakeEngine({
      '/metrics': { body: fixture('llamacpp.txt') },
      '/slots': {
        status: 501,
        body: '{"error":{"code":501,"message":"This server does not support slots endpoint."}}',
      },
    });
    await expect(adapterFor('llamacpp').scrapeLoad(baseUrl, API_KEY, signal())).rejects.toMatchObject({
      name: 'EngineScrapeError',
      code: 'http_status',
    });
  });

  it.each([
    ['vllm.txt', { running: 12, waiting: 3, kvCacheUsage: 0.375 }],
    ['sglang-priority.txt', { running: 10, waiting: 5, kvCacheUsage: 0.5 }],
    ['lmdeploy.txt', { running: 6, waiting: 1, kvCacheUsage: 0.52 }],
    ['llamacpp.txt', { running: 2, waiting: 1, kvCacheUsage: 0.1875 }],
  ])('reads an external engine serving %s by the metric names it finds', async (file, load) => {
    const { baseUrl } = await fakeEngine({
      '/metrics': { body: fixture(file) },
      '/slots': { body: fixture('llamacpp-slots.json') },
    });
    await expect(adapterFor('external').scrapeLoad(baseUrl, API_KEY, signal())).resolves.toEqual(load);
  });

  it('fails with http_status when the engine serves no /metrics (SGLang without --enable-metrics)', async () => {
    const { baseUrl } = await fakeEngine({});
    await expect(adapterFor('sglang').scrapeLoad(baseUrl, API_KEY, signal())).rejects.toMatchObject({
      code: 'http_status',
    });
  });

  it('fails with metric_missing when an external page has no known engine metrics', async () => {
    const { baseUrl } = await fakeEngine({ '/metrics': { body: 'process_cpu_seconds_total 12.5\n' } });
    await expect(adapterFor('external').scrapeLoad(baseUrl, API_KEY, signal())).rejects.toMatchObject({
      code: 'metric_missing',
    });
  });

  it('fails with unreachable when nothing listens', async () => {
    const { baseUrl } = await fakeEngine({});
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
    await expect(adapterFor('vllm').scrapeLoad(baseUrl, API_KEY, signal())).rejects.toMatchObject({
      code: 'unreachable',
    });
  });
});

describe('the simulator through its adapter', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  it('launches, becomes ready, and reports an idle load', async () => {
    const sim = engine('sim', {
      id: 'sim-t',
      servedModelName: 'sim-model',
      port: await freePort(),
      maxConcurrency: 2,
    });
    const adapter = adapterFor('sim');
    const launch = adapter.launchCommand(sim, API_KEY);
    if (!launch) throw new Error('the sim adapter launches a process');
    child = spawn(launch.command, launch.args, { env: { ...process.env, ...launch.env }, stdio: 'ignore' });
    const baseUrl = engineBaseUrl(sim);
    await waitFor(
      'the simulator to become ready',
      () => adapter.probeReady(baseUrl, sim, API_KEY, signal()),
      {
        timeoutMs: 20_000,
        intervalMs: 100,
      },
    );
    await expect(adapter.scrapeLoad(baseUrl, API_KEY, signal())).resolves.toEqual({
      running: 0,
      waiting: 0,
      kvCacheUsage: 0,
    });
  });
});
