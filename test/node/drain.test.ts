import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_HEADER } from '../../src/protocol/node-api.ts';
import { freePort, groupAlive, isAlive } from '../../gpu-node/index.ts';
import { YOUNG_GENERATION_FLAG } from '../../gpu-node/young-generation.ts';
import { type AgentProcess, runGpuNode, writeConfig } from '../support/agent-process.ts';
import { FakeGateway } from '../support/fake-gateway.ts';
import { makeTempDir, removeTempDirs } from '../support/throwaway-engine.ts';
import { waitFor } from '../support/wait-for.ts';

afterAll(removeTempDirs);

describe('gpu-node start, then SIGTERM', () => {
  let gateway: FakeGateway;
  let agent: AgentProcess;
  let proxyUrl: string;
  let metricsUrl: string;

  beforeAll(async () => {
    gateway = new FakeGateway(100);
    const gatewayUrl = await gateway.start();
    const dir = makeTempDir('drain');
    const [listenPort, enginePort] = [await freePort(), await freePort()];
    metricsUrl = `http://127.0.0.1:${await freePort()}/metrics`;
    proxyUrl = `http://127.0.0.1:${listenPort}`;
    const config = writeConfig(dir, {
      gateway: { url: gatewayUrl, nodeToken: gateway.nodeToken },
      node: { name: 'drain-test', listen: { host: '127.0.0.1', port: listenPort }, publicUrl: proxyUrl },
      drainTimeoutMs: 10_000,
      logDir: join(dir, 'logs'),
      engines: [
        {
          kind: 'sim',
          model: 'sim-model',
          id: 'sim-1',
          port: enginePort,
          args: ['--decode-ms-per-token', '10'],
        },
      ],
    });
    agent = runGpuNode(['start', '--config', config, '--metrics-listen', new URL(metricsUrl).host]);
  });

  afterAll(async () => {
    if (agent.child.exitCode === null) agent.child.kill('SIGKILL');
    await gateway.close();
  });

  const chat = (maxTokens: number) =>
    fetch(`${proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gateway.credential}`,
        [ENGINE_HEADER]: 'sim-1',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        model: 'sim-model',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: maxTokens,
      }),
    });

  it('finishes the in-flight request, refuses new ones with 503, deregisters, stops the engine group and exits 0', async () => {
    await waitFor(
      'the engine reported ready',
      () => gateway.heartbeats().some((beat) => beat.engines[0]?.state === 'ready'),
      { timeoutMs: 15_000 },
    );
    // Re-executed in place with the young generation capped: same pid, the flag on its command line.
    const cmdline = readFileSync(`/proc/${agent.child.pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toContain(YOUNG_GENERATION_FLAG);
    const started = agent.logs.find((line) => line.msg === 'engine process started');
    const enginePid = started?.pid as number;
    expect(enginePid).toBeGreaterThan(0);
    expect((await chat(1)).status).toBe(200);
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toContain('gpu_node_engine_state{engine="sim-1",state="ready"} 1');
    expect(metrics).toContain('gpu_node_proxied_requests_total{engine="sim-1",status="200"} 1');

    // ~150 tokens at 10 ms each: in flight for about 1.5 s.
    const slow = chat(150);
    await waitFor('the slow request in flight at the agent', async () =>
      (await (await fetch(metricsUrl)).text()).includes('gpu_node_in_flight_requests{engine="sim-1"} 1'),
    );
    agent.child.kill('SIGTERM');

    await waitFor('the gateway was told to drain', () => gateway.callsTo('/nodes/drain').length === 1);
    // The agent flips to draining right after the gateway answers; quick requests until one is refused.
    const refused = await waitFor(
      'a request refused while draining',
      async () => {
        const response = await chat(1);
        if (response.status === 503) return response;
        await response.body?.cancel();
        throw new Error(`a request was answered ${response.status}`);
      },
      { timeoutMs: 3_000 },
    );
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('node_draining');
    expect(refused.headers.get('retry-after')).not.toBeNull();
    expect(gateway.callsTo('/nodes/deregister')).toHaveLength(0);

    const slowAnswer = await slow;
    expect(slowAnswer.status).toBe(200);
    const body = (await slowAnswer.json()) as { usage: { completion_tokens: number } };
    expect(body.usage.completion_tokens).toBe(150);

    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(gateway.callsTo('/nodes/deregister')).toHaveLength(1);
    expect(isAlive(enginePid)).toBe(false);
    expect(groupAlive(enginePid)).toBe(false);
  });
});
