/**
 * The `--api-key` check. The key is accepted as OpenAI clients send it (`Authorization: Bearer`),
 * as Anthropic's do (`x-api-key`), and, on the realtime WebSocket, as the subprotocol browsers
 * use because they cannot set headers. vLLM checks `/v1` routes only; the simulator checks every
 * route but `/health`.
 */
import type { IncomingMessage } from 'node:http';
import { SimError } from './sim-error.ts';

export function authorize(
  request: IncomingMessage,
  apiKey: string | undefined,
  subprotocolKey?: string,
): void {
  if (apiKey === undefined) return;
  const { authorization, 'x-api-key': xApiKey } = request.headers;
  if (authorization === `Bearer ${apiKey}` || xApiKey === apiKey || subprotocolKey === apiKey) return;
  throw new SimError('Unauthorized', { status: 401 });
}
