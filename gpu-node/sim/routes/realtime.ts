/**
 * vLLM's realtime transcription over the `/v1/realtime` WebSocket. The server sends
 * `session.created`; the client sends `session.update` with its model, then
 * `input_audio_buffer.commit` to start, `input_audio_buffer.append` chunks of base64 PCM16 at
 * 16 kHz, and `input_audio_buffer.commit` with `final: true` when the audio ends. The server answers
 * with `transcription.delta` events as audio arrives and `transcription.done` with the text and
 * usage. Problems are `{"type":"error","error":message,"code"}` events, as vLLM sends them.
 *
 * An utterance is one long-running engine request (one batch slot): each chunk prefills its audio
 * tokens and decodes the words spoken in it (2.5 per second of audio).
 */
import { hash } from 'node:crypto';
import { SPEECH_WORDS_PER_SECOND } from '../media/wav.ts';
import type { SimContext } from '../sim-context.ts';
import type { EngineStream } from '../sim-engine.ts';
import { outputTokens, seedOf } from '../text-model.ts';
import type { WebSocketPeer } from '../websocket.ts';
import { AUDIO_TOKENS_PER_SECOND, audioTokens } from './audio-transcription.ts';
import { simId } from './chat-shapes.ts';

const INPUT_SAMPLE_RATE = 16_000;

/** Audio chunks in arrival order; `null` marks the end of the utterance. */
type Queued = Buffer | null;

export class RealtimeSession {
  readonly #context: SimContext;
  readonly #peer: WebSocketPeer;
  readonly #controller = new AbortController();
  readonly #queue: Queued[] = [];
  #wake: (() => void) | undefined;
  #validated = false;
  #generating = false;

  constructor(context: SimContext, peer: WebSocketPeer) {
    this.#context = context;
    this.#peer = peer;
    const closeForShutdown = (): void => peer.close(1001, 'the simulator is closing');
    context.closing.addEventListener('abort', closeForShutdown, { once: true });
    const stop = (): void => {
      context.closing.removeEventListener('abort', closeForShutdown);
      this.#controller.abort(new Error('the client disconnected'));
      this.#wake?.();
    };
    peer.listen({ onMessage: (text) => this.#receive(text), onClose: stop });
    this.#send({ type: 'session.created', id: simId('sess-'), created: Math.floor(Date.now() / 1000) });
  }

  #send(event: Record<string, unknown>): void {
    this.#peer.send(JSON.stringify(event));
  }

  #error(error: string, code: string): void {
    this.#send({ type: 'error', error, code });
  }

  #receive(text: string): void {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return this.#error('Invalid JSON', 'invalid_json');
    }
    switch (event.type) {
      case 'session.update':
        if (event.model !== this.#context.options.servedModelName) {
          return this.#error(`The model \`${String(event.model)}\` does not exist.`, 'model_not_found');
        }
        this.#validated = true;
        return;
      case 'input_audio_buffer.append': {
        const audio = typeof event.audio === 'string' ? Buffer.from(event.audio, 'base64') : Buffer.alloc(0);
        if (audio.length < 2) return this.#error('Invalid audio data', 'invalid_audio');
        return this.#enqueue(audio);
      }
      case 'input_audio_buffer.commit':
        if (!this.#validated) {
          return this.#error(
            'Model not validated. Make sure to validate the model by sending a session.update event.',
            'model_not_validated',
          );
        }
        if (event.final === true) return this.#enqueue(null);
        if (!this.#generating) void this.#transcribe();
        return;
      default:
        return this.#error(`Unknown event type: ${String(event.type)}`, 'unknown_event');
    }
  }

  #enqueue(item: Queued): void {
    this.#queue.push(item);
    this.#wake?.();
  }

  async #next(): Promise<Queued> {
    while (this.#queue.length === 0) {
      this.#controller.signal.throwIfAborted();
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    this.#wake = undefined;
    return this.#queue.shift() ?? null;
  }

  /** One utterance: feeds each chunk to a long-running engine request until the final commit. */
  async #transcribe(): Promise<void> {
    this.#generating = true;
    const signal = this.#controller.signal;
    let stream: EngineStream | undefined;
    let finished = false;
    try {
      stream = await this.#context.engine.openStream(signal);
      let [seconds, promptTokens, words, text, seed] = [0, 0, 0, '', 0];
      for (let chunk = await this.#next(); chunk !== null; chunk = await this.#next()) {
        const fingerprint = hash('sha1', chunk, 'hex').slice(0, 12);
        // The transcript is seeded by the first chunk: the same audio gives the same words.
        if (promptTokens === 0) seed = seedOf(fingerprint);
        const chunkSeconds = chunk.length / 2 / INPUT_SAMPLE_RATE;
        seconds += chunkSeconds;
        const audio = audioTokens(
          fingerprint,
          promptTokens,
          Math.max(1, Math.round(chunkSeconds * AUDIO_TOKENS_PER_SECOND)),
        );
        promptTokens += audio.length;
        const spoken = Math.floor(seconds * SPEECH_WORDS_PER_SECOND);
        const all = outputTokens(seed, spoken);
        for await (const token of stream.feed(audio, all.slice(words))) {
          text += token.text;
          this.#send({ type: 'transcription.delta', delta: token.text });
        }
        words = spoken;
      }
      finished = true;
      const usage = {
        prompt_tokens: promptTokens,
        completion_tokens: words,
        total_tokens: promptTokens + words,
      };
      this.#send({ type: 'transcription.done', text, usage });
      this.#context.faults.recordCompleted();
    } catch (error) {
      if (!signal.aborted)
        this.#error(error instanceof Error ? error.message : String(error), 'processing_error');
    } finally {
      stream?.close(finished);
      this.#queue.length = 0;
      this.#generating = false;
    }
  }
}
