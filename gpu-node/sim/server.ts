/**
 * The simulator's HTTP server: a flat route table on `node:http`, bearer-key checks, fault
 * injection, and one place where errors become vLLM-shaped answers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { answerEmbeddings } from './embedding-route.ts';
import { FaultInjector } from './fault-injector.ts';
import { parseGenerationRequest } from './generation-request.ts';
import { answerGeneration, type ResponseIdentity, streamGeneration } from './generation-route.ts';
import { readJsonBody, sendEvent, sendJson } from './http-io.ts';
import { parseSimOptions, type SimOptions } from './options.ts';
import { SimEngine } from './sim-engine.ts';
import { SimError } from './sim-error.ts';

export interface RunningSimulator {
  url: string;
  port: number;
  options: SimOptions;
  close(): Promise<void>;
}

interface SimContext {
  options: SimOptions;
  engine: SimEngine;
  faults: FaultInjector;
  identity: ResponseIdentity;
  startedAt: number;
}

/** The inference routes, with the API names vLLM uses when a model does not serve one. */
const INFERENCE_APIS: Record<string, string> = {
  '/v1/chat/completions': 'Chat Completions',
  '/v1/completions': 'Completions',
  '/v1/embeddings': 'Embeddings',
};

function authorize(request: IncomingMessage, apiKey: string | undefined): void {
  if (apiKey === undefined || request.headers.authorization === `Bearer ${apiKey}`) return;
  throw new SimError('Unauthorized', { status: 401 });
}

async function serveInference(
  context: SimContext,
  path: string,
  request: IncomingMessage,
  response: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const { options, engine, faults } = context;
  const verdict = faults.judgeArrival();
  if (verdict === 'stall') return;
  const body = await readJsonBody(request);
  if (verdict === 'fail') throw new SimError('simulated engine failure (--fail-rate)', { status: 500 });
  const servesPath = path === '/v1/embeddings' ? options.task === 'embed' : options.task === 'generate';
  if (!servesPath)
    throw new SimError(`The model does not support ${INFERENCE_APIS[path]} API`, { status: 400 });

  if (path === '/v1/embeddings') {
    await answerEmbeddings(engine, options, body, response, signal);
  } else {
    const generation = parseGenerationRequest(
      path === '/v1/chat/completions' ? 'chat' : 'completion',
      body,
      options,
    );
    const answer = generation.stream ? streamGeneration : answerGeneration;
    await answer(engine, generation, context.identity, response, signal);
  }
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
  const route = `${request.method ?? 'GET'} ${path}`;
  if (route === 'GET /health') {
    response.writeHead(200, { 'content-length': 0 }).end();
    return;
  }
  authorize(request, context.options.apiKey);
  if (route === 'GET /v1/models') {
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
  } else if (route === 'GET /metrics') {
    const { contentType, text } = await context.engine.metrics.render();
    response.writeHead(200, { 'content-type': contentType }).end(text);
  } else if (request.method === 'POST' && Object.hasOwn(INFERENCE_APIS, path)) {
    await serveInference(context, path, request, response, signal);
  } else {
    throw new SimError(`no route for ${route}`, { status: 404 });
  }
}

function answerError(response: ServerResponse, error: unknown): void {
  const simError =
    error instanceof SimError
      ? error
      : new SimError('the simulator failed unexpectedly', { status: 500, cause: error });
  if (response.destroyed) return;
  if (!response.headersSent) {
    sendJson(response, simError.status, simError.toBody());
    return;
  }
  // Mid-stream: say so in the stream, as vLLM does, rather than ending as if complete.
  sendEvent(response, simError.toBody());
  response.end();
}

export async function startSimulator(input: Partial<SimOptions> = {}): Promise<RunningSimulator> {
  const options = parseSimOptions(input);
  const engine = new SimEngine(options);
  const context: SimContext = {
    options,
    engine,
    faults: new FaultInjector(options, engine),
    identity: { model: options.servedModelName, systemFingerprint: `switchyard-sim-${options.engineId}` },
    startedAt: Math.floor(Date.now() / 1000),
  };
  const inFlight = new Set<AbortController>();

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
    routeRequest(context, request, response, controller.signal).catch((error: unknown) => {
      if (!controller.signal.aborted) answerError(response, error);
    });
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
      for (const controller of inFlight)
        controller.abort(new SimError('the simulator is closing', { status: 503 }));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
