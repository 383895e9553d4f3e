/**
 * The one door to the engines. The gateway calls `<node url><path>` with the credential it was
 * issued at registration and `x-switchyard-engine: <id>`; the proxy checks the credential,
 * swaps it for that engine's own API key and streams both directions without buffering.
 * Engines listen on loopback only, so nothing reaches them except through here.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { ENGINE_HEADER, type EngineState } from '../src/protocol/node-api.ts';
import { METER_HEADER, METER_PATH, parseMeterRequest } from '../src/protocol/node-metering.ts';
import type { AgentMetrics } from './agent-metrics.ts';
import { type Exchange, InFlight } from './in-flight.ts';
import { type RelayedAnswer, relayAnswer } from './answer-relay.ts';
import { MeterRecords } from './meter-records.ts';
import { NodeCredentialCheck } from './node-credential.ts';
import { sendOpenAIError } from './openai-error.ts';
import { joinUpgrade, type Refusal, refuseUpgrade } from './proxy-upgrade.ts';
import { requestHeaders, responseHeaders, Upstreams } from './upstream.ts';

/** Seconds a caller should wait before trying this node again when it refuses for now. */
const RETRY_AFTER_SECONDS = '5';
/** How long a collection of a stream's meter record waits for the stream's end at the agent. */
const METER_WAIT_MS = 5_000;

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

type Admission = { ok: true; engineId: string; target: ProxyTarget } | Refusal;

export class AgentProxy {
  readonly server: http.Server;
  private readonly options: ProxyOptions;
  private readonly upstreams = new Upstreams();
  private readonly credentialCheck = new NodeCredentialCheck();
  private readonly inFlight: InFlight;
  private readonly meterRecords = new MeterRecords();
  private draining = false;
  /** Upgraded connections (WebSockets): the server no longer tracks them, so `close` cuts them here. */
  private readonly tunnels = new Set<Duplex>();

  constructor(options: ProxyOptions) {
    this.options = options;
    this.inFlight = new InFlight(options.metrics.inFlight);
    this.server = http.createServer((req, res) => this.route(req, res));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      this.routeUpgrade(req, socket, head),
    );
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
    return this.inFlight.total;
  }

  /** Resolves true once nothing is in flight, or false when `timeoutMs` passes first. */
  waitUntilIdle(timeoutMs: number): Promise<boolean> {
    return this.inFlight.waitUntilIdle(timeoutMs);
  }

  /** How long the engine has sent no byte on any call in flight to it; null when none is. */
  silentForMs(engineId: string): number | null {
    return this.inFlight.silentForMs(engineId);
  }

  /**
   * Ends every call in flight to a hung engine: one it has not answered gets the agent's 503,
   * which the gateway retries on another engine (the client has seen nothing); one whose answer
   * has started is cut, so the gateway ends the client's stream with an error. Returns how many.
   */
  endHung(engineId: string): number {
    return this.inFlight.endHung(engineId);
  }

  /** Stops listening and cuts whatever is still connected. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const socket of this.tunnels) socket.destroy();
    this.upstreams.destroy();
    await closed;
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method === 'GET' && req.url?.startsWith(METER_PATH)) return this.collectMeterRecord(req, res);
    const admitted = this.admit(req);
    if (!admitted.ok) {
      const { status, code, message, headers } = admitted;
      return sendOpenAIError(res, status, code, message, headers);
    }
    this.forward(admitted.engineId, admitted.target, req, res);
  }

  /** The gateway collects what a metered stream cost (src/protocol/node-metering.ts); draining or not. */
  private collectMeterRecord(req: http.IncomingMessage, res: http.ServerResponse): void {
    const expected = this.options.credential();
    if (expected === null || !this.credentialCheck.accepts(req.headers.authorization, expected)) {
      return sendOpenAIError(res, 401, 'invalid_node_credential', 'Missing or wrong node credential.');
    }
    const callId = req.url!.slice(METER_PATH.length);
    req.resume();
    void this.meterRecords.take(callId, METER_WAIT_MS).then((record) => {
      if (!record) return sendOpenAIError(res, 404, 'meter_record_not_found', `No metered call "${callId}".`);
      const body = JSON.stringify(record);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  }

  /** The checks every call passes, requests and WebSocket upgrades alike: who asks, for which engine. */
  private admit(req: http.IncomingMessage): Admission {
    const expected = this.options.credential();
    if (expected === null) {
      return refusal(503, 'node_not_registered', 'This node is not registered with the gateway yet.', {
        'retry-after': RETRY_AFTER_SECONDS,
      });
    }
    if (!this.credentialCheck.accepts(req.headers.authorization, expected)) {
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
   * A WebSocket upgrade (vLLM's `/v1/realtime`): the same checks, then proxy-upgrade.ts. It counts
   * as in flight for its whole life, so a drain waits for it and a hung engine's end cuts it.
   */
  private routeUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const admitted = this.admit(req);
    if (!admitted.ok) return refuseUpgrade(socket, admitted);
    const { engineId, target } = admitted;
    const exchange: Exchange = { lastProgressAt: performance.now(), endHung: () => socket.destroy() };
    this.inFlight.add(engineId, exchange);
    this.tunnels.add(socket);
    socket.once('close', () => {
      this.tunnels.delete(socket);
      this.inFlight.delete(engineId, exchange);
    });
    joinUpgrade({
      engineId,
      apiKey: target.apiKey,
      upstream: this.upstreams.for(target.baseUrl),
      req,
      socket,
      head,
      exchange,
      metrics: this.options.metrics,
      logger: this.options.logger,
    });
  }

  private forward(
    engineId: string,
    target: ProxyTarget,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): void {
    const { metrics, logger } = this.options;
    const base = this.upstreams.for(target.baseUrl);
    const upstream = base.module.request({
      host: base.hostname,
      port: base.port,
      method: req.method,
      path: base.pathPrefix + (req.url ?? '/'),
      headers: requestHeaders(req.rawHeaders, base.host, target.apiKey),
      agent: base.agent,
    });
    const meter = parseMeterRequest(req.headers[METER_HEADER] as string | undefined);
    let relayed: RelayedAnswer | null = null;
    // Set once the call is over for the proxy (caller gone, or ended as hung): engine errors are moot.
    let settled = false;
    const exchange: Exchange = {
      lastProgressAt: performance.now(),
      endHung: () => {
        if (settled) return;
        settled = true;
        upstream.destroy();
        if (res.headersSent) {
          relayed?.engineFailed();
          res.destroy();
          return;
        }
        metrics.proxiedRequests.inc({ engine: engineId, status: '503' });
        sendOpenAIError(res, 503, 'engine_hung', `Engine "${engineId}" stopped making progress.`, {
          'retry-after': RETRY_AFTER_SECONDS,
        });
      },
    };
    this.inFlight.add(engineId, exchange);
    res.once('close', () => {
      this.inFlight.delete(engineId, exchange);
      if (res.writableFinished || settled) return;
      // The caller went away before the answer finished: cut the engine's request so the GPU stops.
      settled = true;
      upstream.destroy();
    });
    upstream.on('response', (answer) => {
      exchange.lastProgressAt = performance.now();
      metrics.proxiedRequests.inc({ engine: engineId, status: String(answer.statusCode ?? 502) });
      relayed = relayAnswer({
        meter,
        records: this.meterRecords,
        answer,
        res,
        headers: responseHeaders(answer.rawHeaders),
        onProgress: () => (exchange.lastProgressAt = performance.now()),
        cutEngine: () => upstream.destroy(),
      });
    });
    upstream.on('error', (error) => {
      if (settled) return;
      if (res.headersSent) {
        relayed?.engineFailed();
        res.destroy();
        return;
      }
      metrics.proxiedRequests.inc({ engine: engineId, status: '502' });
      logger.warn({ engine: engineId, err: error }, 'engine unreachable');
      sendOpenAIError(res, 502, 'engine_unreachable', `Engine "${engineId}" did not answer.`);
    });
    req.pipe(upstream);
  }
}

function refusal(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Refusal {
  return { ok: false, status, code, message, headers };
}
