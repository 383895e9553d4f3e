/**
 * Speech-like audio and the WAV container. The "speech" is one short tone per word (pitch from the
 * word, a soft attack and release, a pause after), so its length follows the text as real speech
 * does; the WAV file is 16-bit mono PCM with a LIST/INFO chunk naming the simulator as its software.
 */
import { seedOf } from '../text-model.ts';

/** OpenAI's speech output rate (its `pcm` format is 24 kHz, 16-bit, mono). */
export const SPEECH_SAMPLE_RATE = 24_000;
/** About 150 words a minute. */
export const SPEECH_WORDS_PER_SECOND = 2.5;

const SOFTWARE = 'switchyard-sim (simulated speech, not a TTS model)';

export function speechSamples(text: string, speed: number): Int16Array {
  const words = text.match(/\S+/g) ?? [];
  const wordSamples = Math.round(SPEECH_SAMPLE_RATE / SPEECH_WORDS_PER_SECOND / speed);
  const samples = new Int16Array(Math.max(1, words.length) * wordSamples);
  const toneSamples = Math.floor(wordSamples * 0.75);
  const ramp = Math.floor(SPEECH_SAMPLE_RATE * 0.01);
  words.forEach((word, index) => {
    const frequency = 160 + (seedOf(word) % 200);
    const start = index * wordSamples;
    for (let sample = 0; sample < toneSamples; sample++) {
      const envelope = Math.min(1, sample / ramp, (toneSamples - sample) / ramp);
      const value = Math.sin((2 * Math.PI * frequency * sample) / SPEECH_SAMPLE_RATE) * envelope * 0.3;
      samples[start + sample] = Math.round(value * 32767);
    }
  });
  return samples;
}

function chunk(id: string, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(id, 0, 'ascii');
  header.writeUInt32LE(body.length, 4);
  return Buffer.concat([header, body, body.length % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

export function wavFile(samples: Int16Array, sampleRate: number): Buffer {
  const format = Buffer.alloc(16);
  format.writeUInt16LE(1, 0); // PCM
  format.writeUInt16LE(1, 2); // mono
  format.writeUInt32LE(sampleRate, 4);
  format.writeUInt32LE(sampleRate * 2, 8); // byte rate
  format.writeUInt16LE(2, 12); // block align
  format.writeUInt16LE(16, 14); // bits per sample
  const software = chunk('ISFT', Buffer.from(`${SOFTWARE}\0`, 'ascii'));
  const info = chunk('LIST', Buffer.concat([Buffer.from('INFO', 'ascii'), software]));
  const data = chunk('data', Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
  const body = Buffer.concat([Buffer.from('WAVE', 'ascii'), chunk('fmt ', format), info, data]);
  return chunk('RIFF', body);
}

/** Seconds of audio in an uploaded file: exact for PCM WAV, estimated at 128 kbit/s otherwise. */
export function audioSeconds(file: Buffer): number {
  if (
    file.length >= 12 &&
    file.toString('ascii', 0, 4) === 'RIFF' &&
    file.toString('ascii', 8, 12) === 'WAVE'
  ) {
    let byteRate = 0;
    for (let offset = 12; offset + 8 <= file.length;) {
      const id = file.toString('ascii', offset, offset + 4);
      const size = file.readUInt32LE(offset + 4);
      if (id === 'fmt ' && offset + 16 <= file.length) byteRate = file.readUInt32LE(offset + 16);
      if (id === 'data' && byteRate > 0) return Math.min(size, file.length - offset - 8) / byteRate;
      offset += 8 + size + (size % 2);
    }
  }
  return file.length / 16_000;
}
