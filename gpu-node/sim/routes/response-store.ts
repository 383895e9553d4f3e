/**
 * The Responses API's server-side state, as vLLM keeps it: in this process's memory, so a stored
 * response exists only on the engine that created it (what a router must route back to). Bounded:
 * past `capacity` entries the oldest is forgotten (vLLM's store is unbounded unless configured).
 */
import type { ChatMessageLike } from '../text-model.ts';

export type ResponseStatus = 'queued' | 'in_progress' | 'completed' | 'incomplete' | 'cancelled' | 'failed';

export interface ResponseObject {
  id: string;
  object: 'response';
  status: ResponseStatus;
  output: unknown[];
  [field: string]: unknown;
}

export interface StoredResponse {
  response: ResponseObject;
  /** The request's input items, with ids, for `/input_items`. */
  inputItems: Array<Record<string, unknown>>;
  /** The conversation up to and including this response's output (instructions excluded). */
  conversation: ChatMessageLike[];
  /** Set while a background response runs; aborting it cancels the generation. */
  controller: AbortController | undefined;
}

const DEFAULT_CAPACITY = 10_000;

export class ResponseStore {
  readonly #entries = new Map<string, StoredResponse>();
  readonly #capacity: number;

  constructor(capacity = DEFAULT_CAPACITY) {
    this.#capacity = capacity;
  }

  get(id: string): StoredResponse | undefined {
    return this.#entries.get(id);
  }

  put(entry: StoredResponse): void {
    this.#entries.set(entry.response.id, entry);
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#capacity) break;
      this.#entries.delete(oldest);
    }
  }

  delete(id: string): boolean {
    const entry = this.#entries.get(id);
    entry?.controller?.abort();
    return this.#entries.delete(id);
  }
}
