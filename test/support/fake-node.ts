/**
 * A scripted stand-in for a node agent, for the gateway's tests. The engine the gateway asks
 * for (`x-switchyard-engine`) picks the behaviour:
 *   ok / ok-*      answers: JSON echo of what it received, or SSE when `stream: true`
 *   fail500        500 with an engine error body
 *   audio          audio/mpeg bytes 0..255 repeated, 64 KiB, in 8 chunks (speech output)
 *   reject400      400 with an engine error body (a client error: not retried)
 *   midstream      SSE: two events, then the connection drops
 *   stall          SSE: one event, then silence
 *   slow           SSE: an event every 50 ms for 10 s (for client-abort tests)
 *   hang3          SSE: three content events, then only SSE comments every 100 ms (keeps the
 *                  relay's idle timer quiet) until the caller leaves, 10 s at most: a stream
 *                  whose relayed chunk count is known when the client walks away
 *   hold / hold-*  JSON like `ok`, but only once POST /__release?model=<model> is called (or
 *                  after 15 s): requests that stay in flight for as long as a test wants
 *   silent         never answers at all
 *   cookies        200 with Set-Cookie, HSTS, X-Powered-By, CORS and openai-* headers
 *   redirect       302 to /__log (a gateway that follows redirects would fetch it)
 *   agent401       the node agent's own refusal: 401 invalid_node_credential
 *   agent404       the node agent's own refusal: 404 engine_not_found
 *   agent503       the node agent's own refusal: 503 node_draining with retry-after
 *   metered        an agent that meters (src/protocol/node-metering.ts): SSE of two events marked
 *                  metered, whose record (collected at GET /switchyard/meter/<call id>) says usage
 *                  40 + 2 — not what the stream says, so a test sees which the gateway charged
 *   metered-cut    metered SSE: one event, then the connection drops; the record says engine_failed
 *   metered-json   JSON whose body says usage 3 + 2 and whose x-switchyard-usage header says 30 + 20
 *   pieces         a 200 `text/event-stream` whose body is the request's `pieces` (an array of
 *                  strings), each written on its own after `pieceGapMs` (default 10 ms): a stream
 *                  cut wherever a test likes, events split mid-way included
 * Whatever the engine, a few paths answer as the engines that serve them do:
 *   POST /v1/responses      a stored response (`resp_…`) kept per engine, JSON or SSE (`response.created`
 *                           first, `response.completed` with usage last); `previous_response_id` must be
 *                           one this engine stores (404 otherwise, as an engine that never saw it says)
 *   GET|DELETE /v1/responses/{id}, POST …/cancel, GET …/input_items
 *                           answered only by the engine that stores the id (404 on any other)
 *   POST /v1/messages       an Anthropic message (JSON), naming the engine in `id`
 *   WebSocket upgrade       `ok*` engines accept: `session.created`, then each message echoed as
 *                           `{type:"echo", data}`; `{"type":"finish"}` gets a `transcription.done`
 *                           with usage 4 + 6; `{"type":"bye"}` closes (1000). `ws-drop` accepts, then
 *                           cuts the socket at the first message; `agent503` refuses as a draining node
 * GET /__log lists what arrived (headers, body size and hash, the body itself when it was JSON,
 * whether the caller went away).
 * GET /__inflight?model=<model> says, for requests naming that model in their JSON body, how
 * many are being answered now, the most there ever were at once, and how many arrived.
 * A streaming `ok` answer honours `stream_options.include_usage`: it then ends with a
 * usage-only chunk (`"choices":[]`, usage 3 + 2 tokens) before `[DONE]`, like OpenAI and vLLM.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { sendOpenAIError } from '../../gpu-node/openai-error.ts';
import {
  METER_HEADER,
  METER_PATH,
  METERED_HEADER,
  USAGE_HEADER,
  parseMeterRequest,
  type MeterRecord,
} from '../../src/protocol/node-metering.ts';
import { refuseUpgrade, WebSocketPeer } from '../../gpu-node/sim/websocket.ts';

export interface LoggedRequest {
  method?: string;
  path: string;
  engine: string;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
  bodySha256: string;
  /** The body parsed, when it was JSON; else null. */
  json: Record<string, unknown> | null;
  callerGone: boolean;
}

/** In-flight counts per model named in the request body. */
interface ModelLoad {
  current: number;
  peak: number;
  arrived: number;
}

const HOLD_FALLBACK_MS = 15_000;

export async function startFakeNode(): Promise<{ url: string; close(): Promise<void> }> {
  const log: LoggedRequest[] = [];
  const loads = new Map<string, ModelLoad>();
  const held = new Map<string, Array<() => void>>();
  const meterRecords = new Map<string, MeterRecord>();
  const server = createServer(async (req, res) => {
    if (req.url === '/__log') return json(res, 200, log);
    const control = new URL(req.url ?? '/', 'http://fake-node');
    if (control.pathname === '/__inflight') {
      const model = control.searchParams.get('model') ?? '';
      return json(res, 200, loads.get(model) ?? { current: 0, peak: 0, arrived: 0 });
    }
    if (control.pathname === '/__release') {
      const model = control.searchParams.get('model') ?? '';
      const waiting = held.get(model) ?? [];
      held.delete(model);
      for (const release of waiting) release();
      return json(res, 200, { released: waiting.length });
    }
    if (control.pathname.startsWith(METER_PATH)) {
      const record = meterRecords.get(control.pathname.slice(METER_PATH.length));
      return record ? json(res, 200, record) : json(res, 404, { error: { message: 'no such call' } });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const entry: LoggedRequest = {
      method: req.method,
      path: req.url ?? '',
      engine: String(req.headers['x-switchyard-engine'] ?? ''),
      headers: req.headers,
      bodyBytes: body.length,
      bodySha256: createHash('sha256').update(body).digest('hex'),
      json: parseJson(req, body),
      callerGone: false,
    };
    log.push(entry);
    const model = modelOf(req, body);
    const load = model === null ? null : (loads.get(model) ?? { current: 0, peak: 0, arrived: 0 });
    if (model !== null && load) {
      loads.set(model, load);
      load.arrived++;
      load.current++;
      load.peak = Math.max(load.peak, load.current);
    }
    res.on('close', () => {
      if (!res.writableFinished) entry.callerGone = true;
      if (load) load.current--;
    });
    if (entry.engine.startsWith('metered')) return answerMetered(entry.engine, req, res, meterRecords);
    if (entry.engine === 'hold' || entry.engine.startsWith('hold-')) {
      const answer = () => respond({ ...entry, engine: 'ok' }, req, body, res);
      const timer = setTimeout(answer, HOLD_FALLBACK_MS);
      const key = model ?? '';
      held.set(key, [
        ...(held.get(key) ?? []),
        () => {
          clearTimeout(timer);
          answer();
        },
      ]);
      return;
    }
    respond(entry, req, body, res);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    log.push({
      method: req.method,
      path: req.url ?? '',
      engine: String(req.headers['x-switchyard-engine'] ?? ''),
      headers: req.headers,
      bodyBytes: 0,
      bodySha256: '',
      json: null,
      callerGone: false,
    });
    upgradeSocket(req, socket, head);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function respond(entry: LoggedRequest, req: IncomingMessage, body: Buffer, res: ServerResponse): void {
  const parsed = parseJson(req, body);
  const engine = entry.engine;
  if (engine === 'silent') return;
  if (entry.path.startsWith('/v1/responses') && answerResponses(engine, req, parsed, res)) return;
  if (entry.path === '/v1/messages' && (engine === 'ok' || engine.startsWith('ok-')) && !parsed?.stream) {
    return json(res, 200, {
      id: `msg_${engine}`,
      type: 'message',
      role: 'assistant',
      model: parsed?.model ?? null,
      content: [{ type: 'text', text: 'Hello, world' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 3, output_tokens: 2 },
    });
  }
  if (engine === 'cookies') {
    res.writeHead(200, {
      'content-type': 'application/json',
      'set-cookie': 'session=stolen; Path=/',
      'strict-transport-security': 'max-age=0',
      'x-powered-by': 'evil-node',
      'access-control-allow-origin': '*',
      'openai-processing-ms': '7',
    });
    return void res.end('{"object":"chat.completion","choices":[]}');
  }
  if (engine === 'redirect') {
    // Points the gateway at the fake node's own log: a gateway that followed would serve it.
    res.writeHead(302, { location: '/__log' });
    return void res.end();
  }
  if (engine === 'agent401') {
    return sendOpenAIError(res, 401, 'invalid_node_credential', 'Missing or wrong node credential.');
  }
  if (engine === 'agent404') return sendOpenAIError(res, 404, 'engine_not_found', 'No engine "agent404".');
  if (engine === 'agent503') {
    return sendOpenAIError(res, 503, 'node_draining', 'This node is draining.', { 'retry-after': '5' });
  }
  if (engine === 'fail500') {
    return json(res, 500, { error: { message: 'engine exploded', type: 'InternalServerError', code: 500 } });
  }
  if (engine === 'audio') {
    res.writeHead(200, { 'content-type': 'audio/mpeg' });
    const chunk = Buffer.from(Array.from({ length: 8192 }, (_, i) => i % 256));
    for (let i = 0; i < 8; i++) res.write(chunk);
    return void res.end();
  }
  if (engine === 'reject400') {
    return json(res, 400, {
      object: 'error',
      message: 'top_k must be -1 or positive',
      type: 'BadRequestError',
      code: 400,
    });
  }
  if (engine === 'midstream') {
    sse(res, [chunk('Hel'), chunk('lo')]);
    setTimeout(() => res.socket?.destroy(), 20);
    return;
  }
  if (engine === 'stall') return sse(res, [chunk('wait')]);
  if (engine === 'hang3') {
    sse(res, [chunk('one'), chunk('two'), chunk('three')]);
    const timer = setInterval(() => res.write(': still here\n\n'), 100);
    const stop = setTimeout(() => res.end('data: [DONE]\n\n'), 10_000);
    res.on('close', () => {
      clearInterval(timer);
      clearTimeout(stop);
    });
    return;
  }
  if (engine === 'pieces') {
    const pieces = Array.isArray(parsed?.pieces) ? (parsed.pieces as unknown[]).map(String) : [];
    const gap = typeof parsed?.pieceGapMs === 'number' ? parsed.pieceGapMs : 10;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let next = 0;
    const writeNext = () => {
      if (res.destroyed) return;
      if (next === pieces.length) return void res.end();
      res.write(pieces[next++]);
      setTimeout(writeNext, gap);
    };
    writeNext();
    return;
  }
  if (engine === 'slow') {
    sse(res, []);
    const timer = setInterval(() => res.write(`data: ${JSON.stringify(chunk('.'))}\n\n`), 50);
    res.on('close', () => clearInterval(timer));
    setTimeout(() => res.end('data: [DONE]\n\n'), 10_000);
    return;
  }
  if (parsed?.stream === true) {
    const options = parsed.stream_options as { include_usage?: unknown } | undefined;
    const usage = options?.include_usage === true ? [usageChunk()] : [];
    sse(res, [chunk('Hello'), chunk(', world'), ...usage]);
    return void res.end('data: [DONE]\n\n');
  }
  json(res, 200, {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    model: parsed?.model ?? null,
    system_fingerprint: `fake-${engine}`,
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello, world' }, finish_reason: 'stop' }],
    usage: USAGE,
    received: { body: parsed, contentType: req.headers['content-type'] ?? null, bytes: body.length },
  });
}

function parseJson(req: IncomingMessage, body: Buffer): Record<string, unknown> | null {
  if (!String(req.headers['content-type'] ?? '').includes('json')) return null;
  try {
    return JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** The model a JSON request names, or null. */
function modelOf(req: IncomingMessage, body: Buffer): string | null {
  const model = parseJson(req, body)?.model;
  return typeof model === 'string' ? model : null;
}

const USAGE = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };

/** The usage-only chunk an OpenAI-style stream ends with when asked to include usage. */
function usageChunk() {
  return { id: 'chatcmpl-fake', object: 'chat.completion.chunk', choices: [], usage: USAGE };
}

/** The `metered*` behaviours: what an agent that meters sends, and the record it keeps. */
function answerMetered(
  engine: string,
  req: IncomingMessage,
  res: ServerResponse,
  records: Map<string, MeterRecord>,
): void {
  const meter = parseMeterRequest(req.headers[METER_HEADER] as string | undefined);
  if (!meter) return json(res, 400, { error: { message: 'metered engines need the meter header' } });
  if (engine === 'metered-json') {
    // As the agent sends a metered JSON answer: whole, with its length.
    const answer = JSON.stringify({
      id: 'chatcmpl-fake',
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 2 },
    });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(answer),
      [METERED_HEADER]: '1',
      [USAGE_HEADER]: '30,20,0',
    });
    res.end(answer);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', [METERED_HEADER]: '1' });
  if (engine === 'metered-cut') {
    records.set(meter.callId, { ending: 'engine_failed', usage: null, completionChunks: 1 });
    res.write(`data: ${JSON.stringify(chunk('Hel'))}\n\n`);
    setTimeout(() => res.socket?.destroy(), 20);
    return;
  }
  records.set(meter.callId, {
    ending: 'ok',
    usage: { promptTokens: 40, completionTokens: 2, cachedTokens: 0 },
    completionChunks: 2,
  });
  res.end(
    `data: ${JSON.stringify(chunk('Hel'))}\n\ndata: ${JSON.stringify(chunk('lo'))}\n\ndata: [DONE]\n\n`,
  );
}

function chunk(content: string) {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta: { content } }],
  };
}

function sse(res: ServerResponse, events: unknown[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const event of events) res.write(`data: ${JSON.stringify(event)}\n\n`);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Stored responses by id, with the engine that made them (each engine knows only its own). */
const storedResponses = new Map<string, { engine: string; response: Record<string, unknown> }>();

/** The Responses API routes, for engines that answer normally; false to fall through to the engine's behaviour. */
function answerResponses(
  engine: string,
  req: IncomingMessage,
  parsed: Record<string, unknown> | null,
  res: ServerResponse,
): boolean {
  if (!(engine === 'ok' || engine.startsWith('ok-') || engine.startsWith('hold'))) return false;
  const [, , , id, action] = (req.url ?? '').split('?')[0]!.split('/');
  const notFound = (missing: string) =>
    json(res, 404, {
      error: {
        message: `Response with id '${missing}' not found.`,
        type: 'invalid_request_error',
        param: null,
        code: 404,
      },
    });
  if (id === undefined) {
    const previous = parsed?.previous_response_id;
    if (typeof previous === 'string' && storedResponses.get(previous)?.engine !== engine) {
      notFound(previous);
      return true;
    }
    const responseId = `resp_${engine}_${crypto.randomUUID().replaceAll('-', '')}`;
    const response = {
      id: responseId,
      object: 'response',
      status: 'completed',
      model: parsed?.model ?? null,
      previous_response_id: previous ?? null,
      output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hello' }] }],
      usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
      engine,
    };
    if (parsed?.store !== false) storedResponses.set(responseId, { engine, response });
    if (parsed?.stream !== true) {
      json(res, 200, response);
      return true;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const created = { ...response, status: 'in_progress', usage: null };
    const events = [
      { type: 'response.created', sequence_number: 0, response: created },
      { type: 'response.output_text.delta', sequence_number: 1, delta: 'Hello' },
      { type: 'response.completed', sequence_number: 2, response },
    ];
    for (const event of events) res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    res.end();
    return true;
  }
  const stored = storedResponses.get(id);
  if (!stored || stored.engine !== engine) {
    notFound(id);
    return true;
  }
  if (req.method === 'DELETE') {
    storedResponses.delete(id);
    json(res, 200, { id, object: 'response.deleted', deleted: true });
  } else if (action === 'cancel') {
    json(res, 400, {
      error: {
        message: 'Cannot cancel a synchronous response.',
        type: 'invalid_request_error',
        param: null,
        code: 400,
      },
    });
  } else if (action === 'input_items') {
    json(res, 200, { object: 'list', data: [], first_id: null, last_id: null, has_more: false, engine });
  } else {
    json(res, 200, stored.response);
  }
  return true;
}

/** The realtime WebSocket as the scripted engines answer it. */
function upgradeSocket(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const engine = String(req.headers['x-switchyard-engine'] ?? '');
  if (engine === 'agent503') {
    socket.end(
      'HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nx-switchyard-error-source: agent\r\nretry-after: 5\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}',
    );
    return;
  }
  if (!(engine === 'ok' || engine.startsWith('ok-') || engine === 'ws-drop')) {
    refuseUpgrade(socket, 400, 'Bad Request', {
      error: {
        message: 'The model does not support Realtime API',
        type: 'BadRequestError',
        param: null,
        code: 400,
      },
    });
    return;
  }
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((protocol) => protocol.trim())
    .filter(Boolean);
  const peer = new WebSocketPeer(req, socket, head, offered[0]);
  peer.send(JSON.stringify({ type: 'session.created', engine }));
  peer.listen({
    onMessage(text) {
      if (engine === 'ws-drop') return void socket.destroy();
      const message = JSON.parse(text) as { type?: string };
      if (message.type === 'bye') return peer.close(1000, 'bye');
      if (message.type === 'finish') {
        peer.send(
          JSON.stringify({
            type: 'transcription.done',
            text: 'hello',
            usage: { prompt_tokens: 4, completion_tokens: 6, total_tokens: 10 },
          }),
        );
        return;
      }
      peer.send(JSON.stringify({ type: 'echo', data: message }));
    },
    onClose() {},
  });
}
