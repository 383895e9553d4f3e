/**
 * Runs a request's choices on the engine. Each choice is its own sequence in the batch, as vLLM V1
 * fans `n > 1` out into child requests (and as `/v1/chat/completions/batch` runs one per
 * conversation); their tokens are merged in the order the engine emits them.
 */
import type { EmittedToken, SimEngine } from '../sim-engine.ts';
import type { ChoicePlan } from './output-plan.ts';

export type ChoiceEvent =
  | { kind: 'token'; choice: number; position: number; text: string; cachedTokens: number }
  | { kind: 'end'; choice: number };

type Pulled = { choice: number; result: IteratorResult<EmittedToken, void> };

const ignore = (): void => undefined;

export async function* runChoices(
  engine: SimEngine,
  choices: readonly ChoicePlan[],
  signal: AbortSignal,
): AsyncGenerator<ChoiceEvent, void, undefined> {
  const iterators = choices.map((choice) => engine.generate(choice.plan, signal));
  const positions = choices.map(() => 0);
  const pending = new Map<number, Promise<Pulled>>();
  const pull = (choice: number): void => {
    const iterator = iterators[choice];
    if (iterator === undefined) return;
    pending.set(
      choice,
      iterator.next().then((result) => ({ choice, result })),
    );
  };
  choices.forEach((_, choice) => pull(choice));
  try {
    while (pending.size > 0) {
      const { choice, result } = await Promise.race(pending.values());
      if (result.done === true) {
        pending.delete(choice);
        yield { kind: 'end', choice };
        continue;
      }
      pull(choice);
      const position = positions[choice] ?? 0;
      positions[choice] = position + 1;
      yield {
        kind: 'token',
        choice,
        position,
        text: result.value.text,
        cachedTokens: result.value.cachedTokens,
      };
    }
  } finally {
    // Leaving early (an error, a client gone): let every sequence end and free its slot.
    for (const [choice, promise] of pending) {
      promise.catch(ignore);
      iterators[choice]?.return(undefined).catch(ignore);
    }
  }
}

export interface CollectedChoice {
  text: string;
  tokens: number;
  cachedTokens: number;
}

/** Runs the choices to the end and returns each one's text. */
export async function collectChoices(
  engine: SimEngine,
  choices: readonly ChoicePlan[],
  signal: AbortSignal,
): Promise<CollectedChoice[]> {
  const collected = choices.map(() => ({ text: '', tokens: 0, cachedTokens: 0 }));
  for await (const event of runChoices(engine, choices, signal)) {
    const entry = collected[event.choice];
    if (event.kind !== 'token' || entry === undefined) continue;
    entry.text += event.text;
    entry.tokens++;
    entry.cachedTokens = event.cachedTokens;
  }
  return collected;
}
