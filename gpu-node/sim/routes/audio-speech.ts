/**
 * `/v1/audio/speech`: `{model, input, voice, response_format, speed}` answered with real audio
 * bytes, streamed as they are "decoded": the engine runs one output token per 80 ms of audio (a
 * 12.5 Hz codec, as current TTS models use) and each token releases its share of the file.
 * Formats: `mp3` (OpenAI's default; silent frames, see media/mp3.ts), `wav` and `pcm` (tones, one
 * per word). Others get a 400 naming these.
 */
import { z } from 'zod';
import { planChoices } from '../generation/output-plan.ts';
import { runChoices } from '../generation/run-choices.ts';
import { validateBody } from '../http-io.ts';
import { mp3File } from '../media/mp3.ts';
import { SPEECH_SAMPLE_RATE, speechSamples, wavFile } from '../media/wav.ts';
import type { RouteCall, SimContext } from '../sim-context.ts';
import { SimError, unknownModel } from '../sim-error.ts';
import { tokenizeText } from '../text-model.ts';
import { AUDIO_TOKENS_PER_SECOND } from './audio-transcription.ts';

const CONTENT_TYPES = { mp3: 'audio/mpeg', wav: 'audio/wav', pcm: 'audio/pcm' } as const;
type SpeechFormat = keyof typeof CONTENT_TYPES;

const speechRequest = z.looseObject({
  model: z.string().min(1),
  input: z.string().min(1).max(4096),
  voice: z.unknown().optional(),
  response_format: z.string().nullish(),
  speed: z.number().min(0.25).max(4).nullish(),
});

function audioFile(format: SpeechFormat, samples: Int16Array): Buffer {
  if (format === 'wav') return wavFile(samples, SPEECH_SAMPLE_RATE);
  if (format === 'mp3') return mp3File(samples.length / SPEECH_SAMPLE_RATE);
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}

export async function answerSpeech(context: SimContext, call: RouteCall): Promise<void> {
  const request = validateBody(speechRequest, call.body);
  if (request.model !== context.options.servedModelName) throw unknownModel(request.model);
  const format = request.response_format ?? 'mp3';
  if (!Object.hasOwn(CONTENT_TYPES, format)) {
    throw new SimError(
      `response_format \`${format}\` is not supported; the simulator produces ${Object.keys(CONTENT_TYPES).join(', ')}`,
      { status: 400, param: 'response_format' },
    );
  }
  const samples = speechSamples(request.input, request.speed ?? 1);
  const file = audioFile(format as SpeechFormat, samples);
  const seconds = samples.length / SPEECH_SAMPLE_RATE;
  const frames = Math.max(1, Math.ceil(seconds * AUDIO_TOKENS_PER_SECOND));
  const promptTokens = tokenizeText(request.input);
  const [plan] = planChoices(
    {
      promptTokens,
      limit: frames,
      limitMode: 'exact',
      n: 1,
      seed: undefined,
      stop: [],
      shape: { kind: 'text' },
      cacheSalt: '',
    },
    context.options,
  );

  context.engine.scheduler.assertCanQueue(promptTokens.length);
  call.response.writeHead(200, {
    'content-type': CONTENT_TYPES[format as SpeechFormat],
    'content-length': file.length,
  });
  call.response.flushHeaders();
  let sent = 0;
  for await (const event of runChoices(context.engine, [plan!], call.signal)) {
    if (event.kind !== 'token') continue;
    const until = Math.round((file.length * (event.position + 1)) / frames);
    call.response.write(file.subarray(sent, until));
    sent = until;
  }
  call.response.end(file.subarray(sent));
}
