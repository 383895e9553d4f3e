/**
 * The agent's own refusals, in OpenAI's error shape with the same `type` table as the gateway,
 * and marked as the agent's (`x-switchyard-error-source: agent`) so the gateway can tell them
 * from an engine's answer and try another engine instead of passing them on.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { ERROR_SOURCE_HEADER, errorTypeForStatus, type OpenAIErrorBody } from '../src/openai/errors.ts';

export function sendOpenAIError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: OutgoingHttpHeaders = {},
): void {
  const error: OpenAIErrorBody = { error: { message, type: errorTypeForStatus(status), param: null, code } };
  const body = JSON.stringify(error);
  res.writeHead(status, {
    ...headers,
    [ERROR_SOURCE_HEADER]: 'agent',
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
