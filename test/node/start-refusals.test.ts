/**
 * When `gpu-node start` gives up and when it does not: a node token the gateway refuses stops
 * it (exit 3, a message saying what to do, engines stopped); an unreachable gateway does not.
 * A port it needs that is taken (proxy, metrics, engine) stops it before anything is launched.
 */
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, groupAlive } from '../../gpu-node/index.ts';
import { runGpuNode, writeConfig } from '../support/agent-process.ts';
import { FakeGateway } from '../support/fake-gateway.ts';
import { makeTempDir, removeTempDirs } from '../support/throwaway-engine.ts';
import { waitFor } from '../support/wait-for.ts';

const gateways: FakeGateway[] = [];
const held: Server[] = [];
afterAll(async () => {
  await Promise.all(gateways.map((gateway) => gateway.close()));
  await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  removeTempDirs();
});

async function startedGateway(): Promise<{ gateway: FakeGateway; url: string }> {
  const gateway = new FakeGateway(100);
  gateways.push(gateway);
  return { gateway, url: await gateway.start() };
}

async function holdPort(): Promise<number> {
  const server = createServer();
  held.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** A one-simulator node; `ports` overrides the proxy, metrics or engine port. */
async function simNode(
  gatewayUrl: string,
  nodeToken: string,
  ports: { listen?: number; metrics?: number; engine?: number } = {},
) {
  const dir = makeTempDir('refusals');
  const listen = ports.listen ?? (await freePort());
  const config = writeConfig(dir, {
    gateway: { url: gatewayUrl, nodeToken },
    node: {
      name: 'refusals',
      listen: { host: '127.0.0.1', port: listen },
      publicUrl: `http://127.0.0.1:${listen}`,
    },
    logDir: join(dir, 'logs'),
    engines: [{ kind: 'sim', id: 'sim-1', model: 'sim-model', port: ports.engine ?? (await freePort()) }],
  });
  const metrics = String(ports.metrics ?? (await freePort()));
  return { dir, agent: runGpuNode(['start', '--config', config, '--metrics-listen', metrics]) };
}

describe('gpu-node start and the gateway', () => {
  it('stops with exit 3 and a message saying what to do when the gateway refuses the node token', async () => {
    const { gateway, url } = await startedGateway();
    const { agent } = await simNode(url, 'snt-revoked1.0123456789abcdef0123456789abcdef');
    const engineStarted = await waitFor('the engine to start', () =>
      agent.logs.find((line) => line.msg === 'engine process started'),
    );
    const { code } = await agent.exited;
    expect(code).toBe(3);
    expect(agent.stderr()).toContain(`the gateway at ${url} refused the node token (401 invalid_node_token)`);
    expect(agent.stderr()).toContain('Ask the gateway operator for a new node token');
    expect(agent.stderr()).not.toMatch(/\n\s+at /);
    expect(gateway.callsTo('/nodes/register')).toHaveLength(1);
    expect(groupAlive(engineStarted!.pid as number)).toBe(false);
  });

  it('keeps retrying while the gateway is unreachable, and registers once it is back', async () => {
    const { gateway, url } = await startedGateway();
    gateway.down = true;
    const { agent } = await simNode(url, gateway.nodeToken);
    await waitFor('two failed registrations', () => gateway.callsTo('/nodes/register').length >= 2, {
      timeoutMs: 10_000,
    });
    expect(agent.child.exitCode).toBeNull();
    gateway.down = false;
    await waitFor('a registration', () => gateway.registrations().length === 1, { timeoutMs: 20_000 });
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });
});

describe('gpu-node start and taken ports', () => {
  it.each(['listen', 'metrics', 'engine'] as const)(
    'refuses to start, launching nothing, when its %s port is taken',
    async (which) => {
      const { url } = await startedGateway();
      const taken = await holdPort();
      const { agent } = await simNode(url, 'snt-unusedtk.0123456789abcdef0123456789abcdef', {
        [which]: taken,
      });
      const { code } = await agent.exited;
      expect(code).toBe(1);
      const owner = {
        listen: "the agent's proxy (node.listen.port)",
        metrics: "the agent's metrics (--metrics-listen)",
        engine: 'engine sim-1 (engines[0].port)',
      }[which];
      expect(agent.stderr()).toContain(`port ${taken} for ${owner} is not free (EADDRINUSE)`);
      expect(agent.stderr()).toContain('Another gpu-node on this machine?');
      expect(agent.logs.some((line) => line.msg === 'engine process started')).toBe(false);
    },
  );
});
