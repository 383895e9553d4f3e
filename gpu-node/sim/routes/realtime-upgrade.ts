/**
 * The `/v1/realtime` WebSocket upgrade: the same key check, task check and fault injection as an
 * inference request, answered on the raw socket before the handshake, then a transcription session.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { authorize } from '../auth.ts';
import type { SimContext } from '../sim-context.ts';
import { SimError } from '../sim-error.ts';
import { refuseUpgrade, WebSocketPeer } from '../websocket.ts';
import { RealtimeSession } from './realtime.ts';

/** OpenAI's browser clients carry the key in a subprotocol named like this. */
const KEY_PROTOCOL_PREFIX = 'openai-insecure-api-key.';

function admitRealtime(
  context: SimContext,
  request: IncomingMessage,
  keyProtocol: string | undefined,
): 'serve' | 'stall' {
  const path = (request.url ?? '/').split('?')[0];
  if (path !== '/v1/realtime') throw new SimError(`no WebSocket route at ${path}`, { status: 404 });
  authorize(request, context.options.apiKey, keyProtocol?.slice(KEY_PROTOCOL_PREFIX.length));
  if (context.options.task !== 'generate')
    throw new SimError('The model does not support Realtime API', { status: 400 });
  const verdict = context.faults.judgeArrival();
  if (verdict === 'fail') throw new SimError('simulated engine failure (--fail-rate)', { status: 500 });
  return verdict;
}

export function upgradeRealtime(
  context: SimContext,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  // A stalled engine accepts the connection and never answers.
  if (context.engine.stalled) return;
  const offered = String(request.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((protocol) => protocol.trim())
    .filter(Boolean);
  const keyProtocol = offered.find((protocol) => protocol.startsWith(KEY_PROTOCOL_PREFIX));
  try {
    if (admitRealtime(context, request, keyProtocol) === 'stall') return;
  } catch (error) {
    const refusal = error instanceof SimError ? error : new SimError('the simulator failed unexpectedly');
    refuseUpgrade(
      socket,
      refusal.status,
      refusal.status === 401 ? 'Unauthorized' : 'Error',
      refusal.toBody(),
    );
    return;
  }
  // Clients that offer subprotocols need one echoed back; never echo the one carrying the key.
  const protocol = offered.find((candidate) => candidate !== keyProtocol) ?? offered[0];
  new RealtimeSession(context, new WebSocketPeer(request, socket, head, protocol));
}
