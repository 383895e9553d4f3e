/** vLLM's realtime transcription WebSocket on the simulator, driven with Node's own WebSocket client. */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../gpu-node/sim/index.ts';
import { closeSimulators, MODEL, readMetric, startTestSimulator } from '../support/sim-helpers.ts';
import { waitFor } from '../support/wait-for.ts';

afterEach(closeSimulators);

type ServerEvent = Record<string, any> & { type: string };

/** A connected client that records every event the server sends. */
async function connect(simulator: RunningSimulator, protocols: string[] = []) {
  const socket = new WebSocket(`${simulator.url.replace('http', 'ws')}/v1/realtime`, protocols);
  const events: ServerEvent[] = [];
  socket.addEventListener('message', (message) =>
    events.push(JSON.parse(String(message.data)) as ServerEvent),
  );
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error('the WebSocket did not open')), { once: true });
  });
  const send = (event: Record<string, unknown>): void => socket.send(JSON.stringify(event));
  const next = async (type: string): Promise<ServerEvent> => {
    const event = await waitFor(`a ${type} event`, () => events.find((candidate) => candidate.type === type));
    if (event === undefined) throw new Error(`no ${type} event`);
    return event;
  };
  return { socket, events, send, next };
}

/** `seconds` of 16 kHz PCM16 silence, base64, as input_audio_buffer.append carries it. */
const pcm = (seconds: number): string => Buffer.alloc(Math.round(seconds * 16_000) * 2).toString('base64');

describe('engine simulator: realtime transcription WebSocket', () => {
  it('says session.created, streams transcription.delta as audio arrives, ends with transcription.done', async () => {
    const simulator = await startTestSimulator({ timeScale: 0.01 });
    const client = await connect(simulator);
    const created = await client.next('session.created');
    expect(created.id).toMatch(/^sess-/);

    client.send({ type: 'session.update', model: MODEL });
    client.send({ type: 'input_audio_buffer.commit' });
    client.send({ type: 'input_audio_buffer.append', audio: pcm(2) });
    await client.next('transcription.delta');
    await waitFor(
      'a running utterance',
      async () => (await readMetric(simulator, 'vllm:num_requests_running')) === 1,
    );
    client.send({ type: 'input_audio_buffer.append', audio: pcm(2) });
    client.send({ type: 'input_audio_buffer.commit', final: true });
    const done = await client.next('transcription.done');

    const deltas = client.events
      .filter((event) => event.type === 'transcription.delta')
      .map((event) => event.delta);
    expect(done.text).toBe(deltas.join(''));
    expect(done.text.split(' ')).toHaveLength(10); // four seconds at 2.5 words a second
    expect(done.usage).toEqual({ prompt_tokens: 50, completion_tokens: 10, total_tokens: 60 });
    expect(await readMetric(simulator, 'vllm:num_requests_running')).toBe(0);
    expect(await readMetric(simulator, 'vllm:generation_tokens_total')).toBe(10);
    client.socket.close();
  });

  it('answers protocol mistakes with error events, as vLLM does', async () => {
    const client = await connect(await startTestSimulator({ timeScale: 0.01 }));
    client.send({ type: 'input_audio_buffer.commit' });
    expect((await client.next('error')).code).toBe('model_not_validated');
    client.socket.send('{not json');
    client.send({ type: 'session.update', model: 'other-model' });
    client.send({ type: 'nonsense' });
    await waitFor('four errors', () => client.events.filter((event) => event.type === 'error').length === 4);
    expect(client.events.filter((event) => event.type === 'error').map((event) => event.code)).toEqual([
      'model_not_validated',
      'invalid_json',
      'model_not_found',
      'unknown_event',
    ]);
    client.socket.close();
  });

  it('requires the API key, which browsers send as a subprotocol', async () => {
    const simulator = await startTestSimulator({ timeScale: 0.01, apiKey: 'sekret' });
    await expect(connect(simulator)).rejects.toThrow('did not open');
    const client = await connect(simulator, ['realtime', 'openai-insecure-api-key.sekret']);
    expect(client.socket.protocol).toBe('realtime');
    await client.next('session.created');
    client.socket.close();
  });

  it('frees the utterance’s batch slot when the client goes away', async () => {
    const simulator = await startTestSimulator({ timeScale: 0.01 });
    const client = await connect(simulator);
    client.send({ type: 'session.update', model: MODEL });
    client.send({ type: 'input_audio_buffer.commit' });
    client.send({ type: 'input_audio_buffer.append', audio: pcm(1) });
    await waitFor(
      'a running utterance',
      async () => (await readMetric(simulator, 'vllm:num_requests_running')) === 1,
    );
    client.socket.close();
    await waitFor(
      'the slot freed',
      async () => (await readMetric(simulator, 'vllm:num_requests_running')) === 0,
    );
    expect(await readMetric(simulator, 'vllm:request_success_total', { finished_reason: 'abort' })).toBe(1);
  });
});
