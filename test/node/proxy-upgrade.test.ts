/**
 * The agent's proxy passes WebSocket upgrades (vLLM's `/v1/realtime`) through to the engine with
 * the engine's own key, counts the session as in flight for its whole life, and refuses an
 * upgrade it would refuse as a request, as the agent's own answer. Against the real simulator.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { simRoutes } from '../../gpu-node/engines/engine-routes.ts';
import type { AgentProxy } from '../../gpu-node/proxy.ts';
import { ENGINE_HEADER } from '../../src/protocol/node-api.ts';
import { closeSimulators, MODEL, startTestSimulator } from '../support/sim-helpers.ts';
import { startTestProxy } from '../support/test-proxy.ts';
import { waitFor } from '../support/wait-for.ts';

const CREDENTIAL = 'node-cred-ws';
const ENGINE_KEY = 'engine-key-ws';

let proxy: AgentProxy;
let proxyUrl: string;

beforeEach(async () => {
  const simulator = await startTestSimulator({ apiKey: ENGINE_KEY, timeScale: 0.01 });
  const started = await startTestProxy({
    findEngine: (id) =>
      id === 'rt' ? { baseUrl: simulator.url, apiKey: ENGINE_KEY, state: 'ready' } : undefined,
    credential: () => CREDENTIAL,
  });
  proxy = started.proxy;
  proxyUrl = `ws://127.0.0.1:${started.port}`;
});

afterEach(async () => {
  await proxy.close();
  await closeSimulators();
});

function open(headers: Record<string, string>, protocols: string[] = []) {
  // Node's WebSocket (undici) takes headers, as the gateway's upgrade request carries them.
  const socket = new WebSocket(`${proxyUrl}/v1/realtime`, { headers, protocols } as unknown as string[]);
  const events: Array<Record<string, unknown>> = [];
  socket.addEventListener('message', (message) => {
    events.push(JSON.parse(String(message.data)) as Record<string, unknown>);
  });
  const opened = new Promise<boolean>((resolve) => {
    socket.addEventListener('open', () => resolve(true), { once: true });
    socket.addEventListener('error', () => resolve(false), { once: true });
  });
  return { socket, events, opened };
}

describe('AgentProxy WebSocket upgrades', () => {
  it("passes the upgrade to the engine with the engine's key, both ways, in flight until it closes", async () => {
    const client = open({ authorization: `Bearer ${CREDENTIAL}`, [ENGINE_HEADER]: 'rt' }, ['realtime']);
    expect(await client.opened).toBe(true);
    expect(client.socket.protocol).toBe('realtime');
    await waitFor('session.created', () => client.events.find((e) => e.type === 'session.created'));
    client.socket.send(JSON.stringify({ type: 'session.update', model: MODEL }));
    client.socket.send(JSON.stringify({ type: 'input_audio_buffer.commit' }));
    client.socket.send(
      JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(32_000).toString('base64') }),
    );
    client.socket.send(JSON.stringify({ type: 'input_audio_buffer.commit', final: true }));
    await waitFor('transcription.done', () => client.events.find((e) => e.type === 'transcription.done'), {
      timeoutMs: 10_000,
    });
    expect(proxy.inFlightTotal()).toBe(1);
    client.socket.close(1000);
    await waitFor('the session to leave the in-flight count', () => proxy.inFlightTotal() === 0);
  });

  it('refuses an upgrade without the node credential, and one for an unknown engine, before the engine sees it', async () => {
    const refusedHeaders: Array<Record<string, string>> = [
      { [ENGINE_HEADER]: 'rt' },
      { authorization: `Bearer ${CREDENTIAL}`, [ENGINE_HEADER]: 'nope' },
    ];
    for (const headers of refusedHeaders) {
      const client = open(headers);
      expect(await client.opened).toBe(false);
    }
    expect(proxy.inFlightTotal()).toBe(0);
  });

  it('cuts open sessions when it closes', async () => {
    const client = open({ authorization: `Bearer ${CREDENTIAL}`, [ENGINE_HEADER]: 'rt' });
    expect(await client.opened).toBe(true);
    const closed = new Promise<void>((resolve) => client.socket.addEventListener('close', () => resolve()));
    await proxy.close();
    await closed;
  });
});

describe('the simulator adapter declares its routes by task', () => {
  it('serves the generative routes and realtime by default, the pooling routes with --task embed', () => {
    const generate = simRoutes({ args: [] });
    expect(generate).toContain('POST /v1/messages');
    expect(generate).toContain('GET /v1/responses/:id');
    expect(generate).toContain('GET /v1/realtime');
    expect(generate).not.toContain('POST /v1/embeddings');
    const embed = simRoutes({ args: ['--task', 'embed'] });
    expect(embed).toContain('POST /v1/embeddings');
    expect(embed).toContain('POST /v2/embed');
    expect(embed).not.toContain('POST /v1/messages');
    expect(embed).not.toContain('GET /v1/realtime');
    expect(simRoutes({ args: ['--task=embed'] })).toEqual(embed);
  });
});
