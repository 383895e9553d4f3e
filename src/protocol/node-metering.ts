/**
 * Metering at the node: the agent reads what an answer cost as it passes, so the gateway can
 * hand the body to the runtime's native pipe instead of pulling every chunk through JavaScript
 * (docs/decisions/0009-metering-at-the-node.md).
 *
 * Gateway → agent, on a proxied call:
 *   x-switchyard-meter: <call id>[; strip-usage][; idle-ms=<n>]
 *     meter this answer under <call id>; `strip-usage`: drop the usage-only SSE chunk the
 *     gateway asked for on the client's behalf; `idle-ms`: cut a stream the engine leaves silent
 *     that long.
 * Agent → gateway, on the answer:
 *   x-switchyard-metered: 1            the agent metered it (an older agent sends nothing, and
 *                                      the gateway meters the body itself)
 *   x-switchyard-usage: <p>,<c>,<k>    a JSON answer's usage: prompt, completion, cached tokens
 *   An SSE answer goes out in whole events only, so a stream the agent cuts never ends torn.
 * Gateway → agent, once an SSE answer is over:
 *   GET /switchyard/meter/<call id>    Authorization: Bearer <node credential>
 *     → 200 MeterRecord (waits for a call still in flight), 404 for a call it never metered.
 */
import type { Usage } from '../usage/usage.ts';
import * as z from '../zod-mini.ts';

export const METER_HEADER = 'x-switchyard-meter';
export const METERED_HEADER = 'x-switchyard-metered';
export const USAGE_HEADER = 'x-switchyard-usage';
export const METER_PATH = '/switchyard/meter/';

export interface MeterRequest {
  callId: string;
  stripUsageChunk: boolean;
  /** 0: no idle limit. */
  idleMs: number;
}

const CALL_ID = /^[A-Za-z0-9_-]{8,64}$/;

export function formatMeterRequest(request: MeterRequest): string {
  let value = request.callId;
  if (request.stripUsageChunk) value += '; strip-usage';
  if (request.idleMs > 0) value += `; idle-ms=${request.idleMs}`;
  return value;
}

/** Null when absent or not understood: the agent then passes the answer through unmetered. */
export function parseMeterRequest(value: string | undefined): MeterRequest | null {
  if (!value) return null;
  const [callId = '', ...params] = value.split(';').map((part) => part.trim());
  if (!CALL_ID.test(callId)) return null;
  let stripUsageChunk = false;
  let idleMs = 0;
  for (const param of params) {
    if (param === 'strip-usage') stripUsageChunk = true;
    else if (param.startsWith('idle-ms=')) {
      idleMs = Number(param.slice('idle-ms='.length));
      if (!Number.isSafeInteger(idleMs) || idleMs < 0) return null;
    }
  }
  return { callId, stripUsageChunk, idleMs };
}

export function formatUsageHeader(usage: Usage): string {
  return `${usage.promptTokens},${usage.completionTokens},${usage.cachedTokens}`;
}

export function parseUsageHeader(value: string | null): Usage | null {
  if (!value) return null;
  const counts = value.split(',').map(Number);
  if (counts.length !== 3 || !counts.every((n) => Number.isSafeInteger(n) && n >= 0)) return null;
  const [promptTokens, completionTokens, cachedTokens] = counts as [number, number, number];
  return { promptTokens, completionTokens, cachedTokens };
}

/**
 * How a metered stream ended at the node. `ok`: the engine finished it; `engine_failed`: the
 * engine broke it off; `engine_idle`: silent past `idle-ms`, cut; `caller_gone`: the gateway's
 * connection closed first (the client left).
 */
export const METER_ENDINGS = ['ok', 'engine_failed', 'engine_idle', 'caller_gone'] as const;

const UsageSchema = z.object({
  promptTokens: z.number().check(z.nonnegative()),
  completionTokens: z.number().check(z.nonnegative()),
  cachedTokens: z.number().check(z.nonnegative()),
});

export const MeterRecordSchema = z.object({
  ending: z.enum(METER_ENDINGS),
  /** The engine's own usage report; null when it sent none (a cut stream). */
  usage: z.nullable(UsageSchema),
  /** Completion chunks sent on: what a stream without a usage report is charged. */
  completionChunks: z.number().check(z.nonnegative()),
});
export type MeterRecord = z.infer<typeof MeterRecordSchema>;
