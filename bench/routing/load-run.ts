/**
 * One load level under one policy: `users` conversations in a closed loop (each sends its next
 * turn when the previous one is answered, and opens a new conversation when one ends) for a
 * warm-up and then a measured window. Turns that start in the window and end before it closes
 * are measured; at the close, turns still running are abandoned (their leases come back as
 * aborted), so every run takes the same time.
 */
import { chatTurn, type Endpoint } from './chat-client.ts';
import { seededRandom, type ChatMessage, type ConversationSource } from './conversations.ts';
import { MODEL, type Workload } from './scenario.ts';

export interface LoadRun {
  endpoints: Endpoint[];
  users: number;
  warmupMs: number;
  measureMs: number;
  source: ConversationSource;
  workload: Workload;
  /** Called when the measured window opens (to read the engines' counters). */
  onWindowOpen: () => Promise<void>;
}

export interface LoadResult {
  ttftMs: number[];
  completionTokens: number;
  turns: number;
  /** 429/503 answers waited out (the turn then succeeded). */
  refusals: number;
  failures: string[];
  windowSeconds: number;
  /** Turns per engine, for the record. */
  engines: Record<string, number>;
}

export async function runLoad(run: LoadRun): Promise<LoadResult> {
  const abort = new AbortController();
  const result: LoadResult = {
    ttftMs: [],
    completionTokens: 0,
    turns: 0,
    refusals: 0,
    failures: [],
    windowSeconds: run.measureMs / 1000,
    engines: {},
  };
  const start = performance.now();
  const windowOpens = start + run.warmupMs;
  const windowCloses = windowOpens + run.measureMs;
  const users = Array.from({ length: run.users }, (_, user) =>
    runUser(user, run, abort.signal, (startedAt, turn) => {
      if (startedAt < windowOpens || performance.now() > windowCloses) return;
      if (!turn.ok) return void result.failures.push(`HTTP ${turn.status}: ${turn.detail}`);
      result.ttftMs.push(turn.ttftMs);
      result.completionTokens += turn.completionTokens;
      result.turns++;
      result.refusals += turn.refusals;
      result.engines[turn.engine] = (result.engines[turn.engine] ?? 0) + 1;
    }),
  );
  await sleepUntil(windowOpens);
  await run.onWindowOpen();
  await sleepUntil(windowCloses);
  abort.abort();
  await Promise.all(users);
  return result;
}

async function runUser(
  user: number,
  run: LoadRun,
  signal: AbortSignal,
  record: (startedAt: number, turn: Awaited<ReturnType<typeof chatTurn>>) => void,
): Promise<void> {
  const random = seededRandom(1000 + user);
  while (!signal.aborted) {
    const conversation = run.source.open(random);
    const messages: ChatMessage[] = conversation.messages;
    for (let turn = 0; turn < conversation.turns && !signal.aborted; turn++) {
      messages.push(run.source.userMessage(random));
      const endpoint = run.endpoints[Math.floor(random() * run.endpoints.length)]!;
      const startedAt = performance.now();
      try {
        const answer = await chatTurn(
          endpoint,
          { model: MODEL, messages, max_tokens: run.workload.maxTokens },
          signal,
        );
        record(startedAt, answer);
        if (!answer.ok) break;
        messages.push({ role: 'assistant', content: answer.text });
      } catch (error) {
        if (signal.aborted) return;
        record(startedAt, { ok: false, status: 0, detail: String(error) });
        break;
      }
    }
  }
}

function sleepUntil(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));
}
