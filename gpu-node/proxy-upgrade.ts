/**
 * A WebSocket upgrade (vLLM's `/v1/realtime`) through the proxy: the handshake goes to the
 * engine with its own key, and once it answers 101 the two sockets are joined byte for byte
 * until either side closes. Refusals are written on the raw socket, as there is no response.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { ERROR_SOURCE_HEADER, errorTypeForStatus } from '../src/openai/errors.ts';
import type { AgentMetrics } from './agent-metrics.ts';
import type { Exchange } from './in-flight.ts';
import { HOP_BY_HOP, type Upstream } from './upstream.ts';

export interface Refusal {
  ok: false;
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
}

export interface UpgradeInput {
  engineId: string;
  apiKey: string;
  upstream: Upstream;
  req: http.IncomingMessage;
  socket: Duplex;
  head: Buffer;
  /** Already counted in flight; its progress is the engine's bytes. */
  exchange: Exchange;
  metrics: AgentMetrics;
  logger: Logger;
}

export function joinUpgrade(input: UpgradeInput): void {
  const { engineId, apiKey, upstream: base, req, socket, head, exchange, metrics, logger } = input;
  const upstream = base.module.request({
    host: base.hostname,
    port: base.port,
    method: req.method,
    path: base.pathPrefix + (req.url ?? '/'),
    headers: {
      ...upgradeHeaders(req.headers),
      connection: 'Upgrade',
      upgrade: req.headers.upgrade ?? 'websocket',
      authorization: `Bearer ${apiKey}`,
    },
  });
  socket.once('close', () => upstream.destroy());
  upstream.on('upgrade', (answer, engineSocket, engineHead) => {
    metrics.proxiedRequests.inc({ engine: engineId, status: '101' });
    exchange.lastProgressAt = performance.now();
    socket.write(`HTTP/1.1 101 Switching Protocols\r\n${rawHeaderLines(answer.rawHeaders)}\r\n`);
    if (engineHead.length > 0) socket.write(engineHead);
    if (head.length > 0) engineSocket.write(head);
    engineSocket.on('error', () => engineSocket.destroy());
    engineSocket.on('data', () => (exchange.lastProgressAt = performance.now()));
    engineSocket.once('close', () => socket.destroy());
    socket.once('close', () => engineSocket.destroy());
    engineSocket.pipe(socket);
    socket.pipe(engineSocket);
  });
  // The engine refused the upgrade with a plain answer: the caller gets it as it is.
  upstream.on('response', (answer) => {
    metrics.proxiedRequests.inc({ engine: engineId, status: String(answer.statusCode ?? 502) });
    socket.write(
      `HTTP/1.1 ${answer.statusCode ?? 502} ${answer.statusMessage ?? ''}\r\n${rawHeaderLines(answer.rawHeaders)}connection: close\r\n\r\n`,
    );
    answer.pipe(socket);
  });
  upstream.on('error', (error) => {
    if (socket.destroyed) return;
    logger.warn({ engine: engineId, err: error }, 'engine unreachable for an upgrade');
    refuseUpgrade(socket, {
      ok: false,
      status: 502,
      code: 'engine_unreachable',
      message: `Engine "${engineId}" did not answer.`,
      headers: {},
    });
  });
  upstream.end();
}

/** A refusal written on the raw socket of an upgrade request. */
export function refuseUpgrade(socket: Duplex, refused: Refusal): void {
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

function upgradeHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const kept: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (HOP_BY_HOP.has(name) || name.startsWith('x-switchyard-') || value === undefined) continue;
    kept[name] = value;
  }
  return kept;
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
