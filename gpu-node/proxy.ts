/**
 * The one door to the engines. The gateway calls `<node url><path>` with the credential it was
 * issued at registration and `x-switchyard-engine: <id>`; the proxy checks the credential,
 * swaps it for that engine's own API key and streams both directions without buffering.
 * Engines listen on loopback only, so nothing reaches them except through here.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { pipeline, type Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { bearerToken, secretsMatch } from '../src/credentials.ts';
import { ERROR_SOURCE_HEADER, errorTypeForStatus } from '../src/openai/errors.ts';
import { ENGINE_HEADER, type EngineState } from '../src/protocol/node-api.ts';
import type { AgentMetrics } from './agent-metrics.ts';
import { sendOpenAIError } from './openai-error.ts';

/** Seconds a caller should wait before trying this node again when it refuses for now. */
const RETRY_AFTER_SECONDS = '5';
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'authorization',
]);

export interface ProxyTarget {
  baseUrl: string;
  apiKey: string;
  state: EngineState;
}

export interface ProxyOptions {
  findEngine(id: string): ProxyTarget | undefined;
  /** The credential the gateway issued; null until the node is registered. */
  credential(): string | null;
  metrics: AgentMetrics;
  logger: Logger;
}

export class AgentProxy {
  readonly server: http.Server;
  private readonly options: ProxyOptions;
  /**
   * Pooled connections to engines, dropped after 1 s idle: well before the engines' own idle
   * timeouts (uvicorn's and llama.cpp's are 5 s), because a POST written onto a socket the engine
   * is closing at that moment fails and cannot be replayed (its body was streamed through).
   */
  private readonly upstreamAgents = {
    http: new http.Agent({ keepAlive: true, timeout: 1_000 }),
    https: new https.Agent({ keepAlive: true, timeout: 1_000 }),
  };
  private readonly inFlight = new Map<string, number>();
  private idleWaiters: Array<() => void> = [];
  private draining = false;
  /** Upgraded connections (WebSockets): the server no longer tracks them, so `close` cuts them here. */
  private readonly tunnels = new Set<Duplex>();

  constructor(options: ProxyOptions) {
    this.options = options;
    this.server = http.createServer((req, res) => void this.route(req, res));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.routeUpgrade(req, socket, head);
    });
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  /** From now on every new request is refused with 503 and retry-after; in-flight ones go on. */
  startDraining(): void {
    this.draining = true;
  }

  inFlightTotal(): number {
    let total = 0;
    for (const count of this.inFlight.values()) total += count;
    return total;
  }

  /** Resolves true once nothing is in flight, or false when `timeoutMs` passes first. */
  async waitUntilIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlightTotal() === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, timeoutMs, false)));
    const result = await Promise.race([idle, timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Stops listening and cuts whatever is still connected. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const socket of this.tunnels) socket.destroy();
    this.upstreamAgents.http.destroy();
    this.upstreamAgents.https.destroy();
    await closed;
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const admitted = await this.admit(req);
    if (!admitted.ok) {
      const { status, code, message, headers } = admitted;
      return sendOpenAIError(res, status, code, message, headers);
    }
    this.forward(admitted.engineId, admitted.target, req, res);
  }

  /** The checks every call passes, requests and WebSocket upgrades alike: who asks, for which engine. */
  private async admit(req: http.IncomingMessage): Promise<Admission> {
    const expected = this.options.credential();
    if (expected === null) {
      return refusal(503, 'node_not_registered', 'This node is not registered with the gateway yet.', {
        'retry-after': RETRY_AFTER_SECONDS,
      });
    }
    const presented = bearerToken(req.headers.authorization);
    if (presented === null || !(await secretsMatch(presented, expected))) {
      return refusal(401, 'invalid_node_credential', 'Missing or wrong node credential.');
    }
    if (this.draining) {
      return refusal(503, 'node_draining', 'This node is draining and takes no new requests.', {
        'retry-after': RETRY_AFTER_SECONDS,
      });
    }
    const engineId = req.headers[ENGINE_HEADER];
    if (typeof engineId !== 'string' || engineId === '') {
      return refusal(400, 'missing_engine', `The ${ENGINE_HEADER} header is required.`);
    }
    const target = this.options.findEngine(engineId);
    if (!target) return refusal(404, 'engine_not_found', `No engine "${engineId}" on this node.`);
    if (target.state !== 'ready') {
      return refusal(503, 'engine_not_ready', `Engine "${engineId}" is ${target.state}.`, {
        'retry-after': RETRY_AFTER_SECONDS,
      });
    }
    return { ok: true, engineId, target };
  }

  /**
   * A WebSocket upgrade (vLLM's `/v1/realtime`): the same checks, then the handshake goes to the
   * engine with its own key, and once it answers 101 the two sockets are joined byte for byte
   * until either side closes. It counts as in flight for its whole life, so a drain waits for it.
   */
  private async routeUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const admitted = await this.admit(req);
    if (!admitted.ok) return refuseUpgrade(socket, admitted);
    const { engineId, target } = admitted;
    this.trackStart(engineId);
    this.tunnels.add(socket);
    socket.once('close', () => {
      this.tunnels.delete(socket);
      this.trackEnd(engineId);
    });
    const base = new URL(target.baseUrl);
    const upstream = (base.protocol === 'https:' ? https : http).request({
      protocol: base.protocol,
      hostname: base.hostname,
      port: base.port,
      method: req.method,
      path: base.pathname.replace(/\/$/, '') + (req.url ?? '/'),
      headers: {
        ...forwardableHeaders(req.headers),
        connection: 'Upgrade',
        upgrade: req.headers.upgrade ?? 'websocket',
        authorization: `Bearer ${target.apiKey}`,
      },
    });
    socket.once('close', () => upstream.destroy());
    upstream.on('upgrade', (answer, engineSocket, engineHead) => {
      this.options.metrics.proxiedRequests.inc({ engine: engineId, status: '101' });
      socket.write(`HTTP/1.1 101 Switching Protocols\r\n${rawHeaderLines(answer.rawHeaders)}\r\n`);
      if (engineHead.length > 0) socket.write(engineHead);
      if (head.length > 0) engineSocket.write(head);
      engineSocket.on('error', () => engineSocket.destroy());
      engineSocket.once('close', () => socket.destroy());
      socket.once('close', () => engineSocket.destroy());
      engineSocket.pipe(socket);
      socket.pipe(engineSocket);
    });
    // The engine refused the upgrade with a plain answer: the caller gets it as it is.
    upstream.on('response', (answer) => {
      this.options.metrics.proxiedRequests.inc({
        engine: engineId,
        status: String(answer.statusCode ?? 502),
      });
      socket.write(
        `HTTP/1.1 ${answer.statusCode ?? 502} ${answer.statusMessage ?? ''}\r\n${rawHeaderLines(answer.rawHeaders)}connection: close\r\n\r\n`,
      );
      answer.pipe(socket);
    });
    upstream.on('error', (error) => {
      if (socket.destroyed) return;
      this.options.logger.warn({ engine: engineId, err: error }, 'engine unreachable for an upgrade');
      refuseUpgrade(socket, refusal(502, 'engine_unreachable', `Engine "${engineId}" did not answer.`));
    });
    upstream.end();
  }

  private forward(
    engineId: string,
    target: ProxyTarget,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): void {
    const { metrics, logger } = this.options;
    this.trackStart(engineId);
    res.once('close', () => this.trackEnd(engineId));

    const base = new URL(target.baseUrl);
    const client = base.protocol === 'https:' ? https : http;
    const upstream = client.request({
      protocol: base.protocol,
      hostname: base.hostname,
      port: base.port,
      method: req.method,
      path: base.pathname.replace(/\/$/, '') + (req.url ?? '/'),
      headers: { ...forwardableHeaders(req.headers), authorization: `Bearer ${target.apiKey}` },
      agent: base.protocol === 'https:' ? this.upstreamAgents.https : this.upstreamAgents.http,
    });
    let callerGone = false;
    // The caller went away before the answer finished: cut the engine's request so the GPU stops.
    res.once('close', () => {
      if (res.writableFinished) return;
      callerGone = true;
      upstream.destroy();
    });
    upstream.on('response', (answer) => {
      metrics.proxiedRequests.inc({ engine: engineId, status: String(answer.statusCode ?? 502) });
      res.writeHead(answer.statusCode ?? 502, withoutHopByHop(answer.headers));
      res.flushHeaders();
      // pipeline destroys `res` if the engine dies mid-answer, so the cut is visible, not a clean end.
      pipeline(answer, res, () => undefined);
    });
    upstream.on('error', (error) => {
      if (callerGone) return;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      metrics.proxiedRequests.inc({ engine: engineId, status: '502' });
      logger.warn({ engine: engineId, err: error }, 'engine unreachable');
      sendOpenAIError(res, 502, 'engine_unreachable', `Engine "${engineId}" did not answer.`);
    });
    req.pipe(upstream);
  }

  private trackStart(engineId: string): void {
    this.inFlight.set(engineId, (this.inFlight.get(engineId) ?? 0) + 1);
    this.options.metrics.inFlight.inc({ engine: engineId });
  }

  private trackEnd(engineId: string): void {
    this.inFlight.set(engineId, (this.inFlight.get(engineId) ?? 1) - 1);
    this.options.metrics.inFlight.dec({ engine: engineId });
    if (this.inFlightTotal() > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

type Refusal = {
  ok: false;
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
};
type Admission = { ok: true; engineId: string; target: ProxyTarget } | Refusal;

function refusal(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Refusal {
  return { ok: false, status, code, message, headers };
}

/** A refusal written on the raw socket of an upgrade request (there is no ServerResponse). */
function refuseUpgrade(socket: Duplex, refused: Refusal): void {
  const body = JSON.stringify({
    error: {
      message: refused.message,
      type: errorTypeForStatus(refused.status),
      param: null,
      code: refused.code,
    },
  });
  const headers = {
    ...refused.headers,
    [ERROR_SOURCE_HEADER]: 'agent',
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(
    `HTTP/1.1 ${refused.status} ${http.STATUS_CODES[refused.status] ?? ''}\r\n${lines.join('')}\r\n${body}`,
  );
}

/** An answer's headers as raw lines, without the ones that describe the engine's own connection. */
function rawHeaderLines(raw: string[]): string {
  let lines = '';
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (/^(keep-alive|transfer-encoding|proxy-connection)$/i.test(name)) continue;
    lines += `${name}: ${raw[i + 1]}\r\n`;
  }
  return lines;
}

function forwardableHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const kept: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (HOP_BY_HOP.has(name) || name.startsWith('x-switchyard-') || value === undefined) continue;
    kept[name] = value;
  }
  return kept;
}

function withoutHopByHop(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const kept: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'connection' || name === 'keep-alive' || name === 'transfer-encoding' || value === undefined)
      continue;
    kept[name] = value;
  }
  return kept;
}
