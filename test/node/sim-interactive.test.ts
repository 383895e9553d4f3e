/** LMDeploy's /v1/chat/interactive on the simulator: history per session, kept by the engine that served it. */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../gpu-node/sim/index.ts';
import { closeSimulators, MODEL, readMetric, startTestSimulator } from '../support/sim-helpers.ts';

afterEach(closeSimulators);

const fast = { timeScale: 0.01 };

interface InteractiveAnswer {
  text: string;
  tokens: number;
  input_tokens: number;
  history_tokens: number;
  finish_reason: string | null;
}

async function turn(simulator: RunningSimulator, body: Record<string, unknown>): Promise<InteractiveAnswer> {
  const response = await fetch(`${simulator.url}/v1/chat/interactive`, {
    method: 'POST',
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as InteractiveAnswer;
}

describe('engine simulator: LMDeploy interactive sessions', () => {
  it('keeps a session’s history on the engine: history_tokens grow turn by turn, and hit the prefix cache', async () => {
    const simulator = await startTestSimulator(fast);
    const session = { model: MODEL, session_id: 42, interactive_mode: true, request_output_len: 5 };
    const first = await turn(simulator, {
      ...session,
      prompt: 'Hello, I am a long enough first turn to fill blocks.',
    });
    expect(first).toMatchObject({ tokens: 5, history_tokens: 0, finish_reason: 'length' });
    const second = await turn(simulator, { ...session, prompt: 'And a second turn.' });
    expect(second.history_tokens).toBe(first.input_tokens + first.tokens);
    const third = await turn(simulator, { ...session, prompt: 'Third.' });
    expect(third.history_tokens).toBe(second.history_tokens + second.input_tokens + second.tokens);
    expect(await readMetric(simulator, 'vllm:prefix_cache_hits_total')).toBeGreaterThan(0);
  });

  it('has no history for a session another engine holds', async () => {
    const holder = await startTestSimulator(fast);
    const other = await startTestSimulator({ ...fast, engineId: 'eng-other' });
    const session = { session_id: 7, interactive_mode: true, request_output_len: 3 };
    await turn(holder, { ...session, prompt: 'first turn' });
    expect((await turn(holder, { ...session, prompt: 'again' })).history_tokens).toBeGreaterThan(0);
    expect((await turn(other, { ...session, prompt: 'again' })).history_tokens).toBe(0);
  });

  it('ends the session after a turn with interactive_mode false, and on an empty end request', async () => {
    const simulator = await startTestSimulator(fast);
    await turn(simulator, { session_id: 3, interactive_mode: true, prompt: 'keep', request_output_len: 2 });
    const closing = await turn(simulator, {
      session_id: 3,
      interactive_mode: false,
      prompt: 'last',
      request_output_len: 2,
    });
    expect(closing.history_tokens).toBeGreaterThan(0);
    expect(
      (await turn(simulator, { session_id: 3, interactive_mode: true, prompt: 'new', request_output_len: 2 }))
        .history_tokens,
    ).toBe(0);
    const ended = await turn(simulator, {
      session_id: 3,
      interactive_mode: false,
      prompt: '',
      request_output_len: 0,
    });
    expect(ended).toEqual({ text: '', tokens: 0, input_tokens: 0, history_tokens: 0, finish_reason: 'stop' });
    expect(
      (
        await turn(simulator, {
          session_id: 3,
          interactive_mode: true,
          prompt: 'fresh',
          request_output_len: 2,
        })
      ).history_tokens,
    ).toBe(0);
  });

  it('streams one JSON object per line, the last with the finish reason', async () => {
    const simulator = await startTestSimulator(fast);
    const response = await fetch(`${simulator.url}/v1/chat/interactive`, {
      method: 'POST',
      body: JSON.stringify({
        session_id: 9,
        interactive_mode: true,
        prompt: 'stream',
        request_output_len: 4,
        stream: true,
      }),
    });
    const lines = (await response.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as InteractiveAnswer);
    expect(lines).toHaveLength(5);
    expect(lines.slice(0, 4).map((line) => line.tokens)).toEqual([1, 2, 3, 4]);
    expect(lines.at(-1)).toMatchObject({ text: '', tokens: 4, finish_reason: 'length' });
    expect(
      lines
        .map((line) => line.text)
        .join('')
        .split(' '),
    ).toHaveLength(4);
  });
});
