/**
 * A hung engine's requests end within the agent's configured time, with an answer the gateway
 * retries elsewhere when nothing was sent yet, and a cut when a stream had begun; an engine that
 * is slow, or failing its health checks while it still makes progress, keeps its requests. The
 * real `gpu-node start` with simulators it launches, called over real sockets.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_SOURCE_HEADER } from '../../src/openai/errors.ts';
import { ENGINE_HEADER } from '../../src/protocol/node-api.ts';
import { freePort } from '../../gpu-node/index.ts';
import { type AgentProcess, runGpuNode, writeConfig } from '../support/agent-process.ts';
import { FakeGateway } from '../support/fake-gateway.ts';
import { makeTempDir, removeTempDirs } from '../support/throwaway-engine.ts';
import { waitFor } from '../support/wait-for.ts';

afterAll(removeTempDirs);

/** A generous check timeout, so a busy machine does not fail the checks of the healthy engines. */
const HEALTH = { intervalMs: 100, timeoutMs: 1_000, unhealthyAfterFailures: 2, hungAfterSilentMs: 1_000 };
const CHECK_MS = HEALTH.intervalMs + HEALTH.timeoutMs;
/**
 * The longest a hung engine may keep a request: until it is both unhealthy (its checks time out
 * one after another) and silent for long enough, then up to one more check.
 */
const HANG_BOUND_MS = Math.max(HEALTH.hungAfterSilentMs, HEALTH.unhealthyAfterFailures * CHECK_MS) + CHECK_MS;
/** What a shared 2-core machine may add to that. */
const SLACK_MS = 3_000;

describe('gpu-node start with an engine that hangs', () => {
  let gateway: FakeGateway;
  let agent: AgentProcess;
  let proxyUrl: string;

  beforeAll(async () => {
    gateway = new FakeGateway(100);
    const gatewayUrl = await gateway.start();
    const dir = makeTempDir('hung');
    const listenPort = await freePort();
    proxyUrl = `http://127.0.0.1:${listenPort}`;
    const sim = async (id: string, args: string[]) => ({
      kind: 'sim',
      model: `${id}-model`,
      id,
      port: await freePort(),
      args,
    });
    const config = writeConfig(dir, {
      gateway: { url: gatewayUrl, nodeToken: gateway.nodeToken },
      node: { name: 'hung-test', listen: { host: '127.0.0.1', port: listenPort }, publicUrl: proxyUrl },
      engineHealth: HEALTH,
      logDir: join(dir, 'logs'),
      stateFile: join(dir, 'state.json'),
      engines: [
        // The second inference request freezes it: no token, no answer, no /health.
        await sim('hangs', ['--stall-after', '1', '--decode-ms-per-token', '20']),
        // /health answers 503 from its first request on, while it goes on generating.
        await sim('sick', ['--health-fail-after', '0', '--decode-ms-per-token', '40']),
        await sim('slow', ['--decode-ms-per-token', '20']),
      ],
    });
    agent = runGpuNode(['start', '--config', config, '--metrics-listen', 'off']);
    await waitFor(
      'all three engines ready',
      () =>
        gateway.credential !== undefined &&
        gateway
          .heartbeats()
          .at(-1)
          ?.engines.every((engine) => engine.state === 'ready'),
      { timeoutMs: 30_000 },
    );
  });

  afterAll(async () => {
    if (agent.child.exitCode === null) agent.child.kill('SIGKILL');
    await agent.exited;
    await gateway.close();
  });

  const chat = (engine: string, stream: boolean, maxTokens: number) =>
    fetch(`${proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gateway.credential}`,
        [ENGINE_HEADER]: engine,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        model: `${engine}-model`,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: maxTokens,
        stream,
      }),
    });
  const stateOf = (engine: string) =>
    gateway
      .heartbeats()
      .at(-1)
      ?.engines.find((report) => report.id === engine)?.state;

  it('ends an unanswered request with a retryable 503 and cuts a started stream, once the engine is silent and failing its checks', async () => {
    // ~10 s of tokens if nothing stopped it.
    const stream = await chat('hangs', true, 500);
    const reader = stream.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    const hungAt = Date.now();
    const unanswered = await chat('hangs', false, 10);
    const answeredAfterMs = Date.now() - hungAt;

    expect(unanswered.status).toBe(503);
    expect(unanswered.headers.get(ERROR_SOURCE_HEADER)).toBe('agent');
    expect(unanswered.headers.get('retry-after')).not.toBeNull();
    expect(((await unanswered.json()) as { error: { code: string } }).error.code).toBe('engine_hung');
    expect(answeredAfterMs).toBeGreaterThanOrEqual(HEALTH.hungAfterSilentMs);
    expect(answeredAfterMs).toBeLessThan(HANG_BOUND_MS + SLACK_MS);

    const drained = (async () => {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read());
    })();
    await expect(drained).rejects.toThrow();
    expect(Date.now() - hungAt).toBeLessThan(HANG_BOUND_MS + SLACK_MS);

    await waitFor('the agent logged the hang', () =>
      agent.logs.some((line) => line.msg === 'engine hung' && line.engine === 'hangs'),
    );
    await waitFor('the hung engine reported unhealthy', () => stateOf('hangs') === 'unhealthy');
    const refused = await chat('hangs', false, 1);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('engine_not_ready');
  });

  it('lets a stream that keeps progressing finish on an engine failing its health checks', async () => {
    // 80 tokens at 40 ms: ~3.2 s, most of it with the engine unhealthy.
    const response = await chat('sick', true, 80);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let text = '';
    let unhealthySince: number | undefined;
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      text += new TextDecoder().decode(chunk.value);
      if (unhealthySince === undefined && stateOf('sick') === 'unhealthy') unhealthySince = Date.now();
    }
    expect(text).toContain('data: [DONE]');
    // Unhealthy for longer than the silence that would have ended it, were it silent.
    expect(unhealthySince).toBeDefined();
    expect(Date.now() - unhealthySince!).toBeGreaterThan(HEALTH.hungAfterSilentMs + CHECK_MS);
  });

  it('lets a non-streamed generation longer than the silence finish on a healthy engine', async () => {
    // 100 tokens at 20 ms: ~2 s without a byte, twice the silence threshold.
    const startedAt = Date.now();
    const response = await chat('slow', false, 100);
    expect(response.status).toBe(200);
    expect(
      ((await response.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens,
    ).toBe(100);
    expect(Date.now() - startedAt).toBeGreaterThan(HEALTH.hungAfterSilentMs);
    expect(stateOf('slow')).toBe('ready');
  });
});
