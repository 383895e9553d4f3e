/**
 * LMDeploy's interactive sessions: the conversation so far, kept on the engine per `session_id`, so
 * each turn's prompt is the history plus the new text (and hits the prefix cache), and a turn that
 * reaches another engine finds no history. Bounded: past `capacity` sessions the least recently
 * used is dropped (LMDeploy drops sessions under memory pressure too).
 */
export interface InteractiveSession {
  id: number;
  /** Prompt and output tokens of every earlier turn, in order. */
  history: string[];
  turns: number;
}

const DEFAULT_CAPACITY = 10_000;

export class InteractiveSessions {
  readonly #sessions = new Map<number, InteractiveSession>();
  readonly #capacity: number;
  /** LMDeploy hands out session ids counting up from its own counter when a request sends -1. */
  #lastId = 0;

  constructor(capacity = DEFAULT_CAPACITY) {
    this.#capacity = capacity;
  }

  newId(): number {
    do this.#lastId++;
    while (this.#sessions.has(this.#lastId));
    return this.#lastId;
  }

  /** The session with this id, most recently used now; a fresh one when there is none. */
  open(id: number): InteractiveSession {
    const session = this.#sessions.get(id) ?? { id, history: [], turns: 0 };
    this.#sessions.delete(id);
    this.#sessions.set(id, session);
    for (const oldest of this.#sessions.keys()) {
      if (this.#sessions.size <= this.#capacity) break;
      this.#sessions.delete(oldest);
    }
    return session;
  }

  end(id: number): void {
    this.#sessions.delete(id);
  }
}
