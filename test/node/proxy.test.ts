import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENGINE_HEADER, type EngineState } from '../../src/protocol/node-api.ts';
import type { AgentProxy } from '../../gpu-node/proxy.ts';
import { closeServer, listenLocally, startTestProxy } from '../support/test-proxy.ts';
import { waitFor } from '../support/wait-for.ts';

const CREDENTIAL = 'node-cred-abc';
const ENGINE_KEY = 'engine-key-xyz';

interface Seen {
  headers: http.IncomingHttpHeaders;
  body: string;
  closedEarly: boolean;
}

/** An engine stand-in on a real socket: /stream sends one chunk, then waits for /release. */
function startEngine(seen: Seen[]) {
  let release: () => void = () => undefined;
  const server = http.createServer((req, res) => {
    const record: Seen = { headers: req.headers, body: '', closedEarly: false };
    seen.push(record);
    req.on('data', (chunk: Buffer) => (record.body += chunk.toString()));
    res.on('close', () => (record.closedEarly = !res.writableFinished));
    if (req.url === '/v1/hold') return; // a long non-streamed generation: no headers yet
    if (req.url === '/v1/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      release = () => res.end('data: [DONE]\n\n');
      return;
    }
    req.on('end', () =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ echoed: record.body })),
    );
  });
  return { server, release: () => release() };
}

describe('AgentProxy', () => {
  let seen: Seen[];
  let engine: ReturnType<typeof startEngine>;
  let proxy: AgentProxy;
  let proxyUrl: string;
  let credential: string | null;
  let engineState: EngineState;

  beforeEach(async () => {
    seen = [];
    credential = CREDENTIAL;
    engineState = 'ready';
    engine = startEngine(seen);
    const enginePort = await listenLocally(engine.server);
    const started = await startTestProxy({
      findEngine: (id) =>
        id === 'e1'
          ? { baseUrl: `http://127.0.0.1:${enginePort}`, apiKey: ENGINE_KEY, state: engineState }
          : undefined,
      credential: () => credential,
    });
    proxy = started.proxy;
    proxyUrl = `http://127.0.0.1:${started.port}`;
  });

  afterEach(async () => {
    await proxy.close();
    await closeServer(engine.server);
  });

  const call = (path: string, headers: Record<string, string>, init: RequestInit = {}) =>
    fetch(`${proxyUrl}${path}`, { method: 'POST', body: '{"model":"m"}', ...init, headers });
  const authorized = { authorization: `Bearer ${CREDENTIAL}`, [ENGINE_HEADER]: 'e1' };

  it('answers 503 to everything before the node is registered', async () => {
    credential = null;
    const response = await call('/v1/chat/completions', authorized);
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('node_not_registered');
    expect(seen).toHaveLength(0);
  });

  it('rejects a call without the credential and one with a wrong credential with an OpenAI-shaped 401', async () => {
    for (const headers of [
      { [ENGINE_HEADER]: 'e1' },
      { ...authorized, authorization: 'Bearer node-cred-abd' },
    ]) {
      const response = await call('/v1/chat/completions', headers);
      expect(response.status).toBe(401);
      expect(response.headers.get('x-switchyard-error-source')).toBe('agent');
      expect(await response.json()).toEqual({
        error: {
          message: expect.any(String),
          type: 'authentication_error',
          param: null,
          code: 'invalid_node_credential',
        },
      });
    }
    expect(seen).toHaveLength(0);
  });

  it('takes only the credential of the latest registration once it changes', async () => {
    expect((await call('/v1/chat/completions', authorized)).status).toBe(200);
    credential = 'node-cred-after-reregistration';
    expect((await call('/v1/chat/completions', authorized)).status).toBe(401);
    const renewed = { ...authorized, authorization: `Bearer ${credential}` };
    expect((await call('/v1/chat/completions', renewed)).status).toBe(200);
  });

  it("forwards with the engine's own key in place of the credential and without switchyard headers", async () => {
    const response = await call('/v1/chat/completions', {
      ...authorized,
      'x-switchyard-session': 's',
      'x-request-id': 'r1',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ echoed: '{"model":"m"}' });
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${ENGINE_KEY}`);
    expect(seen[0]!.headers[ENGINE_HEADER]).toBeUndefined();
    expect(seen[0]!.headers['x-switchyard-session']).toBeUndefined();
    expect(seen[0]!.headers['x-request-id']).toBe('r1');
  });

  it('answers 404 for an unknown engine and 503 with retry-after for one that is not ready', async () => {
    expect((await call('/v1/chat/completions', { ...authorized, [ENGINE_HEADER]: 'nope' })).status).toBe(404);
    engineState = 'restarting';
    const notReady = await call('/v1/chat/completions', authorized);
    expect(notReady.status).toBe(503);
    expect(notReady.headers.get('retry-after')).not.toBeNull();
    expect(seen).toHaveLength(0);
  });

  it('streams the first chunk before the engine finishes, and counts it in flight meanwhile', async () => {
    const response = await call('/v1/stream', authorized);
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('data: first\n\n');
    expect(proxy.inFlightTotal()).toBe(1);
    engine.release();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      rest += new TextDecoder().decode(chunk.value);
    expect(rest).toBe('data: [DONE]\n\n');
    await waitFor('in-flight back to 0', () => proxy.inFlightTotal() === 0);
  });

  it("cuts the engine's request when the caller disconnects, before or after the engine's headers", async () => {
    for (const path of ['/v1/hold', '/v1/stream']) {
      const aborter = new AbortController();
      const pending = call(path, authorized, { signal: aborter.signal });
      if (path === '/v1/stream') await (await pending).body!.getReader().read();
      else await waitFor('engine got the request', () => seen.length === 1);
      aborter.abort();
      await pending.catch(() => undefined);
      await waitFor(`engine saw the disconnect on ${path}`, () => seen.at(-1)?.closedEarly === true);
      await waitFor('in-flight back to 0', () => proxy.inFlightTotal() === 0);
    }
  });

  it('refuses new requests with 503 and retry-after while draining, letting the in-flight one finish', async () => {
    const streaming = await call('/v1/stream', authorized);
    const reader = streaming.body!.getReader();
    await reader.read();
    proxy.startDraining();
    const refused = await call('/v1/chat/completions', authorized);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('node_draining');
    const idle = proxy.waitUntilIdle(2_000);
    engine.release();
    while (!(await reader.read()).done);
    expect(await idle).toBe(true);
  });
});
