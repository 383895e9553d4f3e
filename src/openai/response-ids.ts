/**
 * Finds the id of a stored response (Responses API) in an engine's answer as it passes: the
 * `id` of a JSON `response` object, or of the `response` that a stream's `response.created`
 * event (the first one) carries. The gateway remembers which engine holds each id, since the
 * response lives only in that engine's memory. Never throws: an answer without an id has none.
 */
import { eventFields, splitEvents } from '../sse/event-fields.ts';

/** Ids the gateway will remember and look up: what engines issue (`resp_<hex>`), nothing wilder. */
export const RESPONSE_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,200}$/;

export function isResponseId(value: unknown): value is string {
  return typeof value === 'string' && RESPONSE_ID_PATTERN.test(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The id of a response object (`{"id":…,"object":"response",…}`); null for anything else. */
export function responseIdOfObject(value: unknown): string | null {
  if (!isRecord(value) || value.object !== 'response') return null;
  return isResponseId(value.id) ? value.id : null;
}

/** The id in a whole JSON answer body. */
export function responseIdInJson(bytes: Uint8Array): string | null {
  try {
    return responseIdOfObject(JSON.parse(new TextDecoder().decode(bytes)));
  } catch {
    return null;
  }
}

/** The id in whole SSE events: the first `response.*` event that carries its response object. */
export function responseIdInEvents(text: string): string | null {
  for (const event of splitEvents(text)) {
    const { data } = eventFields(event);
    if (data === undefined || !data.trimStart().startsWith('{')) continue;
    try {
      const json: unknown = JSON.parse(data);
      if (!isRecord(json) || typeof json.type !== 'string' || !json.type.startsWith('response.')) continue;
      const id = responseIdOfObject(json.response);
      if (id) return id;
    } catch {
      // Not JSON: not an event that carries an id.
    }
  }
  return null;
}

/**
 * The shard (0 … shards-1) that remembers a response id: FNV-1a over the id, so ids spread
 * evenly whatever their format, and the same id always lands on the same shard.
 */
export function responseShard(responseId: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < responseId.length; i++) {
    hash ^= responseId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}
