/**
 * `/v1/audio/transcriptions` and `/v1/audio/translations`, multipart in, as vLLM serves them:
 * `file` (25 MB at most), `model`, `language`, `prompt`, `response_format` (`json`, `text`,
 * `verbose_json`), `stream` (vLLM's `transcription.chunk` SSE). The audio counts one prompt token
 * per 80 ms (a 12.5 Hz audio tokenizer); the transcript is lorem words at 2.5 per second of audio,
 * seeded by the file's bytes, and runs on the engine like any generation.
 */
import { hash } from 'node:crypto';
import { planChoices } from '../generation/output-plan.ts';
import { runChoices } from '../generation/run-choices.ts';
import { endEventStream, sendEvent, sendJson, sendText, startEventStream } from '../http-io.ts';
import { audioSeconds, SPEECH_WORDS_PER_SECOND } from '../media/wav.ts';
import type { RouteCall, SimContext } from '../sim-context.ts';
import { SimError, unknownModel } from '../sim-error.ts';
import { tokenizeText } from '../text-model.ts';
import { simId } from './chat-shapes.ts';

const MAX_AUDIO_BYTES = 25 * 1024 * 1024;
export const AUDIO_TOKENS_PER_SECOND = 12.5;
const FORMATS = ['json', 'text', 'verbose_json'];

/** Prompt tokens standing for audio: distinct per file and position, so they never share cache blocks by accident. */
export function audioTokens(fingerprint: string, from: number, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `<a:${fingerprint}:${from + index}>`);
}

function field(form: FormData, name: string): string | undefined {
  const value = form.get(name);
  return typeof value === 'string' ? value : undefined;
}

export function audioRoute(task: 'transcribe' | 'translate') {
  return async function answerAudioText(context: SimContext, call: RouteCall): Promise<void> {
    const form = call.body as FormData;
    const file = form.get('file');
    if (file === null || typeof file === 'string') {
      throw new SimError('file is required: the audio to transcribe, as a multipart file field', {
        status: 400,
        param: 'file',
      });
    }
    if (file.size > MAX_AUDIO_BYTES)
      throw new SimError('Maximum file size exceeded (25 MB)', { status: 400, param: 'file' });
    const model = field(form, 'model');
    if (model === undefined || model === '')
      throw new SimError('model is required', { status: 400, param: 'model' });
    if (model !== context.options.servedModelName) throw unknownModel(model);
    const format = field(form, 'response_format') ?? 'json';
    if (!FORMATS.includes(format)) {
      throw new SimError(`response_format \`${format}\` is not supported; use one of ${FORMATS.join(', ')}`, {
        status: 400,
        param: 'response_format',
      });
    }
    const audio = Buffer.from(await file.arrayBuffer());
    const seconds = audioSeconds(audio);
    const fingerprint = hash('sha1', audio, 'hex').slice(0, 12);
    const promptText = field(form, 'prompt') ?? '';
    const promptTokens = [
      ...audioTokens(fingerprint, 0, Math.max(1, Math.ceil(seconds * AUDIO_TOKENS_PER_SECOND))),
      ...tokenizeText(promptText),
    ];
    const words = Math.max(1, Math.round(seconds * SPEECH_WORDS_PER_SECOND));
    const [plan] = planChoices(
      {
        promptTokens,
        limit: words,
        limitMode: 'exact',
        n: 1,
        seed: undefined,
        stop: [],
        shape: { kind: 'text' },
        cacheSalt: '',
      },
      context.options,
    );
    const language = task === 'translate' ? 'en' : (field(form, 'language') ?? 'en');

    if (field(form, 'stream') === 'true') {
      context.engine.scheduler.assertCanQueue(promptTokens.length);
      const head = {
        id: simId('trsc-'),
        object: 'transcription.chunk',
        created: Math.floor(Date.now() / 1000),
        model,
      };
      startEventStream(call.response);
      for await (const event of runChoices(context.engine, [plan!], call.signal)) {
        const choice =
          event.kind === 'token'
            ? { delta: { content: event.text }, finish_reason: null, stop_reason: null }
            : { delta: {}, finish_reason: 'stop', stop_reason: null };
        sendEvent(call.response, { ...head, choices: [choice] });
      }
      endEventStream(call.response);
      return;
    }

    let text = '';
    const timed: Array<{ word: string; start: number; end: number }> = [];
    for await (const event of runChoices(context.engine, [plan!], call.signal)) {
      if (event.kind !== 'token') continue;
      text += event.text;
      const start = (event.position * seconds) / words;
      timed.push({ word: event.text.trim(), start, end: start + seconds / words });
    }
    const usage = { type: 'duration', seconds: Math.ceil(seconds) };
    if (format === 'text') return sendText(call.response, 200, text);
    if (format === 'json') return sendJson(call.response, 200, { text, usage });
    sendJson(call.response, 200, {
      task,
      language,
      duration: seconds,
      text,
      segments: [
        {
          id: 0,
          seek: 0,
          start: 0,
          end: seconds,
          text,
          tokens: timed.map((_, index) => index),
          temperature: 0,
          avg_logprob: -0.25,
          compression_ratio: 1,
          no_speech_prob: 0.01,
        },
      ],
      words: timed,
      usage,
    });
  };
}
