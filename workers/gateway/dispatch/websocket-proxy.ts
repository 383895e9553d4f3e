/**
 * A WebSocket call (`GET /v1/realtime`) proxied end to end: a lease from the model's pool, the
 * upgrade sent to that engine's agent, and once it answers 101 the client's socket joined to the
 * engine's, message for message, until either side closes. The lease is held for the socket's
 * whole life and returned exactly once, however it ends; a failure on one side closes the other
 * with a close code that says so (1011), never a silent hang. Before the upgrade is answered, a
 * failed engine is excluded and another tried, as for any call.
 */
import { clientFacingHeaders } from '../../../src/http/engine-headers.ts';
import { ApiError, ERROR_SOURCE_HEADER } from '../../../src/openai/errors.ts';
import { ENGINE_HEADER } from '../../../src/protocol/node-api.ts';
import { RealtimeUsage } from '../../../src/usage/realtime-usage.ts';
import type { LeaseOutcome } from '../../objects/model-pool.ts';
import type { NodeLease } from './engine-leases.ts';
import type { GatewayConfig } from '../config.ts';
import { CallLog, type CallEnding } from './call-log.ts';
import type { EngineLeases } from './engine-leases.ts';
import { refusal } from './forward.ts';

const MAX_ATTEMPTS = 3;
const SERVED_BY_HEADER = 'x-switchyard-engine';

export interface WebSocketCall {
  requestId: string;
  model: string;
  /** The engine route it needs (`GET /v1/realtime`): only engines that serve it are leased. */
  route: string;
  pathAndQuery: string;
  /** Subprotocols to offer the engine (never the one that carried the client's key). */
  protocols: string[];
  /** Headers the 101 (or the refusal) carries: the key's rate-limit state. */
  answerHeaders: Record<string, string>;
  /** Runs once when the socket is over (or was never opened): the caller settles the key here. */
  onFinish: (ending: CallEnding) => void;
  /** The call's leases, held (and renewed) for the socket's whole life. */
  leases: EngineLeases;
}

type Opened =
  | { kind: 'socket'; socket: WebSocket; protocol: string | null }
  | { kind: 'answer'; response: Response }
  | { kind: 'failed'; error: ApiError };

export async function proxyWebSocket(config: GatewayConfig, call: WebSocketCall): Promise<Response> {
  const log = new CallLog(call.requestId, call.model, call.pathAndQuery, call.onFinish);
  const exclude: string[] = [];
  let lastError: ApiError | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const { held, picked } = await call.leases.pick({ route: call.route }, exclude);
    if (!picked.ok) {
      if (lastError) break;
      const refused = refusal(picked, call.model, call.route);
      log.finish(refused.status, 'refused', refused.code);
      throw refused;
    }
    const lease = picked.lease;
    log.attempted(lease.engineKey);
    const returnLease = (outcome: LeaseOutcome) => held.release(outcome);
    let opened: Opened;
    try {
      opened = await openUpstream(lease, call, config.connectTimeoutMs);
    } catch (err) {
      returnLease('aborted');
      log.finish(500, 'failed', 'internal_error');
      throw err;
    }
    if (opened.kind === 'socket') return joinSockets(opened, lease, call, log, returnLease);
    if (opened.kind === 'answer') {
      // The engine itself refused the upgrade (a 4xx): its answer is the client's.
      returnLease('ok');
      log.finish(opened.response.status, 'ok');
      const headers = clientFacingHeaders(opened.response.headers);
      headers.set(SERVED_BY_HEADER, lease.engineKey);
      headers.set(ERROR_SOURCE_HEADER, 'upstream');
      for (const [name, value] of Object.entries(call.answerHeaders)) headers.set(name, value);
      return new Response(opened.response.body, { status: opened.response.status, headers });
    }
    returnLease('failed');
    exclude.push(lease.engineKey);
    lastError = opened.error;
  }
  log.finish(lastError!.status, 'failed', lastError!.code);
  throw lastError!;
}

async function openUpstream(
  lease: NodeLease,
  call: WebSocketCall,
  connectTimeoutMs: number,
): Promise<Opened> {
  const headers = new Headers({
    upgrade: 'websocket',
    authorization: `Bearer ${lease.credential}`,
    [ENGINE_HEADER]: lease.engineId,
    'x-request-id': call.requestId,
  });
  if (call.protocols.length > 0) headers.set('sec-websocket-protocol', call.protocols.join(', '));
  const where = `engine ${lease.engineId} on node ${lease.nodeId}`;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), connectTimeoutMs);
  let response: Response;
  try {
    response = await fetch(new URL(call.pathAndQuery, lease.url), {
      headers,
      signal: abort.signal,
      redirect: 'manual',
    });
  } catch (cause) {
    const timedOut = abort.signal.aborted;
    const message = timedOut
      ? `${where} did not answer the WebSocket upgrade within ${connectTimeoutMs} ms.`
      : `Could not reach ${where}: ${(cause as Error).message}`;
    return {
      kind: 'failed',
      error: new ApiError(timedOut ? 504 : 502, message, {
        code: timedOut ? 'upstream_timeout' : 'upstream_unreachable',
        cause,
      }),
    };
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 101 && response.webSocket) {
    return {
      kind: 'socket',
      socket: response.webSocket,
      protocol: response.headers.get('sec-websocket-protocol'),
    };
  }
  const fromAgent = response.headers.get(ERROR_SOURCE_HEADER) === 'agent';
  if (!fromAgent && response.status >= 400 && response.status < 500) return { kind: 'answer', response };
  await response.body?.cancel();
  const code =
    response.status === 503 ? 'no_available_engine' : fromAgent ? 'node_refused' : 'upstream_error';
  return {
    kind: 'failed',
    error: new ApiError(
      response.status === 503 ? 503 : 502,
      `${where} answered the WebSocket upgrade with ${response.status}.`,
      {
        code,
        headers: response.status === 503 ? { 'retry-after': response.headers.get('retry-after') ?? '1' } : {},
      },
    ),
  };
}

function joinSockets(
  opened: Extract<Opened, { kind: 'socket' }>,
  lease: NodeLease,
  call: WebSocketCall,
  log: CallLog,
  returnLease: (outcome: LeaseOutcome) => void,
): Response {
  const engine = opened.socket;
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  engine.accept();
  server.accept();
  const usage = new RealtimeUsage();
  const startedAt = Date.now();
  let ended = false;
  const end = (outcome: LeaseOutcome, code: number, reason: string) => {
    if (ended) return;
    ended = true;
    closeQuietly(server, code, reason);
    closeQuietly(engine, code, reason);
    returnLease(outcome);
    log.finish(outcome === 'failed' ? 502 : 101, outcome, null, {
      usage: usage.usage(),
      fallback: { promptTokens: 0, completionTokens: 0, cachedTokens: 0 },
      ttftMs: Date.now() - startedAt,
    });
  };
  server.addEventListener('message', (event) => {
    try {
      engine.send(event.data);
    } catch {
      end('failed', 1011, 'the engine connection was lost');
    }
  });
  engine.addEventListener('message', (event) => {
    if (typeof event.data === 'string') usage.observe(event.data);
    try {
      server.send(event.data);
    } catch {
      end('aborted', 1000, '');
    }
  });
  server.addEventListener('close', (event) => end('ok', event.code, event.reason));
  server.addEventListener('error', () => end('aborted', 1011, 'the client connection failed'));
  engine.addEventListener('close', (event) =>
    normalClose(event.code)
      ? end('ok', event.code, event.reason)
      : end('failed', 1011, `the engine connection closed abnormally (${event.code})`),
  );
  engine.addEventListener('error', () => end('failed', 1011, 'the engine connection failed'));
  const headers = new Headers(call.answerHeaders);
  headers.set(SERVED_BY_HEADER, lease.engineKey);
  if (opened.protocol) headers.set('sec-websocket-protocol', opened.protocol);
  return new Response(null, { status: 101, webSocket: client, headers });
}

/** Close codes an endpoint may send (RFC 6455 §7.4): 1005 and 1006 only describe a close. */
function sendableCode(code: number): boolean {
  return (
    code === 1000 ||
    (code >= 1001 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

function normalClose(code: number): boolean {
  return code === 1000 || code === 1001 || code === 1005;
}

function closeQuietly(socket: WebSocket, code: number, reason: string): void {
  try {
    socket.close(sendableCode(code) ? code : 1000, reason.slice(0, 120));
  } catch {
    // Already closed.
  }
}
