/**
 * Metering at the node (src/protocol/node-metering.ts): the agent reads what an answer cost as it
 * passes, so the gateway can pipe the body natively. Against an engine stand-in on a real socket.
 */
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENGINE_HEADER } from '../../src/protocol/node-api.ts';
import {
  METER_HEADER,
  METER_PATH,
  METERED_HEADER,
  MeterRecordSchema,
  USAGE_HEADER,
} from '../../src/protocol/node-metering.ts';
import type { AgentProxy } from '../../gpu-node/proxy.ts';
import { closeServer, listenLocally, startTestProxy } from '../support/test-proxy.ts';
import { waitFor } from '../support/wait-for.ts';

const CREDENTIAL = 'node-cred-abc';
const USAGE_EVENT =
  'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}\n\n';
const chunk = (text: string) =>
  `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${text}"}}]}\n\n`;

/** Scripted answers by path; `engineClosed` notes requests whose connection ended before the answer did. */
function startEngine() {
  const state = { engineClosed: 0 };
  const server = http.createServer((req, res) => {
    res.on('close', () => {
      if (!res.writableFinished) state.engineClosed++;
    });
    req.resume();
    if (req.url === '/v1/json') {
      const body = JSON.stringify({
        id: 'x',
        choices: [],
        usage: { prompt_tokens: 11, completion_tokens: 4 },
      });
      return res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (req.url === '/v1/stream') {
      // Events split across writes, so the agent must reassemble them.
      const whole = chunk('a') + chunk('b') + USAGE_EVENT + 'data: [DONE]\n\n';
      res.write(whole.slice(0, 30));
      setTimeout(() => res.end(whole.slice(30)), 20);
    } else if (req.url === '/v1/torn') {
      res.write(chunk('a') + chunk('b').slice(0, 25));
      setTimeout(() => res.destroy(), 30);
    } else if (req.url === '/v1/silent') {
      res.write(chunk('a'));
    } else if (req.url === '/v1/slow') {
      res.write(chunk('a'));
      setTimeout(() => res.end(chunk('b') + 'data: [DONE]\n\n'), 300);
    }
  });
  return { server, state };
}

describe('the agent meters answers the gateway asks it to', () => {
  let engine: ReturnType<typeof startEngine>;
  let proxy: AgentProxy;
  let proxyUrl: string;

  beforeEach(async () => {
    engine = startEngine();
    const enginePort = await listenLocally(engine.server);
    const started = await startTestProxy({
      findEngine: () => ({ baseUrl: `http://127.0.0.1:${enginePort}`, apiKey: 'k', state: 'ready' }),
      credential: () => CREDENTIAL,
    });
    proxy = started.proxy;
    proxyUrl = `http://127.0.0.1:${started.port}`;
  });

  afterEach(async () => {
    await proxy.close();
    await closeServer(engine.server);
  });

  const call = (path: string, meter?: string, init: RequestInit = {}) =>
    fetch(`${proxyUrl}${path}`, {
      method: 'POST',
      body: '{"model":"m"}',
      ...init,
      headers: {
        authorization: `Bearer ${CREDENTIAL}`,
        [ENGINE_HEADER]: 'e1',
        ...(meter ? { [METER_HEADER]: meter } : {}),
      },
    });
  const collect = async (callId: string, credential = CREDENTIAL) => {
    const answer = await fetch(`${proxyUrl}${METER_PATH}${callId}`, {
      headers: { authorization: `Bearer ${credential}` },
    });
    return { status: answer.status, body: (await answer.json()) as unknown };
  };

  it('sends a JSON answer whole, with its usage in a header', async () => {
    const answer = await call('/v1/json', 'call-json-1');
    expect(answer.headers.get(METERED_HEADER)).toBe('1');
    expect(answer.headers.get(USAGE_HEADER)).toBe('11,4,0');
    const body = await answer.text();
    expect(answer.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(JSON.parse(body)).toMatchObject({ usage: { prompt_tokens: 11 } });
  });

  it('leaves an answer nobody asked it to meter as it was', async () => {
    const answer = await call('/v1/json');
    expect(answer.headers.get(METERED_HEADER)).toBeNull();
    expect(answer.headers.get(USAGE_HEADER)).toBeNull();
  });

  it('strips the usage chunk it was told to, keeps the usage for the gateway, and hands it over once', async () => {
    const answer = await call('/v1/stream', 'call-stream-1; strip-usage');
    expect(answer.headers.get(METERED_HEADER)).toBe('1');
    expect(await answer.text()).toBe(chunk('a') + chunk('b') + 'data: [DONE]\n\n');
    const record = await collect('call-stream-1');
    expect(record.status).toBe(200);
    expect(MeterRecordSchema.parse(record.body)).toEqual({
      ending: 'ok',
      usage: { promptTokens: 7, completionTokens: 2, cachedTokens: 0 },
      completionChunks: 2,
    });
    expect((await collect('call-stream-1')).status).toBe(404);
  });

  it('passes the usage chunk when the client asked for it', async () => {
    const answer = await call('/v1/stream', 'call-stream-2');
    expect(await answer.text()).toContain('"usage"');
  });

  it('sends only whole events from an engine that breaks off, and says it failed', async () => {
    const answer = await call('/v1/torn', 'call-torn-1');
    const reader = answer.body!.getReader();
    let received = '';
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          received += Buffer.from(value).toString();
        }
      })(),
    ).rejects.toThrow();
    expect(received).toBe(chunk('a'));
    expect((await collect('call-torn-1')).body).toMatchObject({
      ending: 'engine_failed',
      completionChunks: 1,
    });
  });

  it('cuts a stream the engine leaves silent past idle-ms', async () => {
    const started = performance.now();
    const answer = await call('/v1/silent', 'call-idle-1; idle-ms=200');
    await expect(answer.text()).rejects.toThrow();
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect((await collect('call-idle-1')).body).toMatchObject({ ending: 'engine_idle', usage: null });
    await waitFor('the engine request cut', () => engine.state.engineClosed === 1);
  });

  it('notes a caller that left, and cuts the engine', async () => {
    const controller = new AbortController();
    const answer = await call('/v1/silent', 'call-gone-1', { signal: controller.signal });
    await answer.body!.getReader().read();
    controller.abort();
    expect((await collect('call-gone-1')).body).toMatchObject({ ending: 'caller_gone', completionChunks: 1 });
    await waitFor('the engine request cut', () => engine.state.engineClosed === 1);
  });

  it('makes a collection that comes before the end wait for it', async () => {
    const answer = await call('/v1/slow', 'call-slow-1');
    const record = collect('call-slow-1');
    await answer.text();
    expect((await record).body).toMatchObject({ ending: 'ok', completionChunks: 2 });
  });

  it('hands records only to the gateway, and only for calls it metered', async () => {
    await (await call('/v1/stream', 'call-auth-1')).text();
    expect((await collect('call-auth-1', 'wrong')).status).toBe(401);
    expect((await collect('never-metered')).status).toBe(404);
    expect((await collect('call-auth-1')).status).toBe(200);
  });

  it('meters nothing for a header it cannot read', async () => {
    const answer = await call('/v1/json', 'bad id with spaces');
    expect(answer.headers.get(METERED_HEADER)).toBeNull();
  });
});
