/**
 * The simulator's HTTP server: the route table (route-table.ts) on `node:http`, key checks, fault
 * injection, the `/v1/realtime` WebSocket upgrade, and the one place where errors become answers
 * in the shape the route's clients expect (vLLM's, or Anthropic's on `/v1/messages*`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { authorize } from './auth.ts';
import { FaultInjector } from './fault-injector.ts';
import { readFormBody, readJsonBody, sendJson, sendNamedEvent, sendEvent } from './http-io.ts';
import { parseSimOptions, type SimOptions } from './options.ts';
import { matchRoute, type SimRoute } from './route-table.ts';
import { InteractiveSessions } from './routes/interactive-sessions.ts';
import { upgradeRealtime } from './routes/realtime-upgrade.ts';
import { ResponseStore } from './routes/response-store.ts';
import type { SimContext } from './sim-context.ts';
import { SimEngine } from './sim-engine.ts';
import { type ErrorStyle, SimError } from './sim-error.ts';

export interface RunningSimulator {
  url: string;
  port: number;
  options: SimOptions;
  close(): Promise<void>;
}

const errorStyleOf = (path: string): ErrorStyle => (path.startsWith('/v1/messages') ? 'anthropic' : 'openai');

function answerModels(context: SimContext, response: ServerResponse): void {
  const { servedModelName, maxModelLen } = context.options;
  const model = {
    id: servedModelName,
    object: 'model',
    created: context.startedAt,
    owned_by: 'switchyard-sim',
  };
  sendJson(response, 200, {
    object: 'list',
    data: [{ ...model, root: servedModelName, parent: null, max_model_len: maxModelLen }],
  });
}

async function serveRoute(
  context: SimContext,
  route: SimRoute,
  params: Record<string, string>,
  request: IncomingMessage,
  response: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const { options, faults } = context;
  const verdict = route.inference ? faults.judgeArrival() : 'serve';
  if (verdict === 'stall') return;
  const body =
    route.body === 'json'
      ? await readJsonBody(request)
      : route.body === 'form'
        ? await readFormBody(request)
        : undefined;
  if (verdict === 'fail') throw new SimError('simulated engine failure (--fail-rate)', { status: 500 });
  if (route.task !== 'any' && route.task !== options.task) {
    throw new SimError(`The model does not support ${route.api} API`, { status: 400 });
  }
  const query = new URL(request.url ?? '/', 'http://sim').searchParams;
  await route.answer(context, { request, response, signal, params, query, body });
  if (!route.inference) return;
  if (response.writableFinished) faults.recordCompleted();
  else response.once('finish', () => faults.recordCompleted());
}

async function routeRequest(
  context: SimContext,
  request: IncomingMessage,
  response: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  const method = request.method ?? 'GET';
  if (method === 'GET' && path === '/health') {
    response.writeHead(context.faults.healthy() ? 200 : 503, { 'content-length': 0 }).end();
    return;
  }
  authorize(request, context.options.apiKey);
  if (method === 'GET' && path === '/v1/models') return answerModels(context, response);
  if (method === 'GET' && path === '/metrics') {
    const { contentType, text } = await context.engine.metrics.render();
    response.writeHead(200, { 'content-type': contentType }).end(text);
    return;
  }
  if (path === '/v1/realtime')
    throw new SimError('/v1/realtime expects a WebSocket upgrade', { status: 400 });
  const match = matchRoute(method, path);
  if (match.route === undefined) throw new SimError(`no route for ${method} ${path}`, { status: 404 });
  await serveRoute(context, match.route, match.params, request, response, signal);
}

function answerError(response: ServerResponse, error: unknown, style: ErrorStyle): void {
  const simError =
    error instanceof SimError
      ? error
      : new SimError('the simulator failed unexpectedly', { status: 500, cause: error });
  if (response.destroyed) return;
  if (!response.headersSent) {
    sendJson(response, simError.status, simError.bodyFor(style));
    return;
  }
  // Mid-stream: say so in the stream, as the engines do, rather than ending as if complete.
  if (style === 'anthropic') sendNamedEvent(response, 'error', simError.toAnthropicBody());
  else sendEvent(response, simError.toBody());
  response.end();
}

export async function startSimulator(input: Partial<SimOptions> = {}): Promise<RunningSimulator> {
  const options = parseSimOptions(input);
  const engine = new SimEngine(options);
  const closing = new AbortController();
  const context: SimContext = {
    options,
    engine,
    faults: new FaultInjector(options, engine),
    identity: { model: options.servedModelName, systemFingerprint: `switchyard-sim-${options.engineId}` },
    startedAt: Math.floor(Date.now() / 1000),
    responses: new ResponseStore(),
    sessions: new InteractiveSessions(),
    closing: closing.signal,
  };
  const inFlight = new Set<AbortController>();
  const upgraded = new Set<Duplex>();

  const server: Server = createServer((request, response) => {
    // A stalled engine accepts connections and reads nothing, answers nothing.
    if (engine.stalled) return;
    response.setHeader('x-sim-engine-id', options.engineId);
    const requestId = request.headers['x-request-id'];
    if (typeof requestId === 'string') response.setHeader('x-request-id', requestId);
    const controller = new AbortController();
    inFlight.add(controller);
    response.on('close', () => {
      inFlight.delete(controller);
      if (!response.writableFinished)
        controller.abort(new SimError('the client disconnected', { status: 400 }));
    });
    const style = errorStyleOf(request.url ?? '/');
    routeRequest(context, request, response, controller.signal).catch((error: unknown) => {
      if (!controller.signal.aborted) answerError(response, error, style);
    });
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    upgradeRealtime(context, request, socket, head);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;

  return {
    url: `http://${host}:${port}`,
    port,
    options,
    async close(): Promise<void> {
      closing.abort(new SimError('the simulator is closing', { status: 503 }));
      for (const controller of inFlight)
        controller.abort(new SimError('the simulator is closing', { status: 503 }));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        // Upgraded sockets left the HTTP server's tracking; the close frames went out just above.
        for (const socket of upgraded) socket.destroy();
      });
    },
  };
}
