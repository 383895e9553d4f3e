/** Audio and image routes on the simulator: multipart in, real WAV / MP3 / PNG bytes out. */
import { inflateSync, crc32 } from 'node:zlib';
import { toFile } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { clientFor, closeSimulators, MODEL, startTestSimulator } from '../support/sim-helpers.ts';

afterEach(closeSimulators);

const fast = { timeScale: 0.01 };

/** A silent 16 kHz mono 16-bit WAV of the given length, built here independently of the simulator. */
function silentWav(seconds: number): Buffer {
  const data = Buffer.alloc(Math.round(seconds * 16_000) * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(16_000, 24);
  header.writeUInt32LE(32_000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

/** The RIFF chunks of a WAV file, by id. */
function wavChunks(file: Buffer): Map<string, Buffer> {
  expect(file.toString('ascii', 0, 4)).toBe('RIFF');
  expect(file.readUInt32LE(4)).toBe(file.length - 8);
  expect(file.toString('ascii', 8, 12)).toBe('WAVE');
  const chunks = new Map<string, Buffer>();
  for (let offset = 12; offset < file.length;) {
    const size = file.readUInt32LE(offset + 4);
    chunks.set(file.toString('ascii', offset, offset + 4), file.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size + (size % 2);
  }
  return chunks;
}

describe('engine simulator: audio', () => {
  it('transcribes an upload with the openai client: json with duration usage, text, verbose_json', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const file = () => toFile(silentWav(4), 'speech.wav', { type: 'audio/wav' });
    const json = await client.audio.transcriptions.create({ model: MODEL, file: await file() });
    expect(json.text.split(' ')).toHaveLength(10); // 2.5 words per second of audio
    expect(json).toMatchObject({ usage: { type: 'duration', seconds: 4 } });
    const text = await client.audio.transcriptions.create({
      model: MODEL,
      file: await file(),
      response_format: 'text',
    });
    expect(text).toBe(json.text);
    const verbose = await client.audio.transcriptions.create({
      model: MODEL,
      file: await file(),
      response_format: 'verbose_json',
      language: 'fr',
    });
    expect(verbose).toMatchObject({ language: 'fr', duration: 4, text: json.text });
    expect(verbose.segments?.[0]).toMatchObject({ start: 0, end: 4 });
  });

  it('parses multipart in any field order, and names what is missing', async () => {
    const simulator = await startTestSimulator(fast);
    const send = async (entries: Array<[string, string | Blob]>) => {
      const form = new FormData();
      for (const [name, value] of entries)
        form.append(name, value, ...(typeof value === 'string' ? [] : ['a.wav']));
      const response = await fetch(`${simulator.url}/v1/audio/translations`, { method: 'POST', body: form });
      return { status: response.status, text: await response.text() };
    };
    const audio = new Blob([silentWav(2)], { type: 'audio/wav' });
    const fileFirst = await send([
      ['file', audio],
      ['response_format', 'text'],
      ['model', MODEL],
    ]);
    const fileLast = await send([
      ['model', MODEL],
      ['response_format', 'text'],
      ['file', audio],
    ]);
    expect(fileFirst).toEqual({ status: 200, text: fileLast.text });
    expect(fileFirst.text.split(' ')).toHaveLength(5);
    const missing = await send([['model', MODEL]]);
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.text)).toMatchObject({ error: { param: 'file' } });
    const srt = await send([
      ['model', MODEL],
      ['file', audio],
      ['response_format', 'srt'],
    ]);
    expect(JSON.parse(srt.text).error.message).toContain('json, text, verbose_json');
  });

  it('speaks a valid WAV whose length follows the text, streamed in pieces', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const response = await client.audio.speech.create({
      model: MODEL,
      voice: 'alloy',
      input: 'one two three four five',
      response_format: 'wav',
    });
    expect(response.headers.get('content-type')).toBe('audio/wav');
    const file = Buffer.from(await response.arrayBuffer());
    const chunks = wavChunks(file);
    const format = chunks.get('fmt ')!;
    expect(format.readUInt16LE(0)).toBe(1); // PCM
    expect(format.readUInt16LE(2)).toBe(1); // mono
    const sampleRate = format.readUInt32LE(4);
    expect(sampleRate).toBe(24_000);
    expect(chunks.get('data')!.length / 2 / sampleRate).toBeCloseTo(2, 5); // five words at 2.5 a second
    expect(chunks.get('LIST')!.toString('latin1')).toContain('switchyard-sim');
    const samples = new Int16Array(chunks.get('data')!.buffer.slice(chunks.get('data')!.byteOffset));
    expect(Math.max(...samples.slice(0, 2400))).toBeGreaterThan(1000); // a tone, not silence
  });

  it('speaks MP3 by default: an ID3 tag, then well-formed MPEG-1 Layer III frames to the last byte', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const response = await client.audio.speech.create({ model: MODEL, voice: 'alloy', input: 'hello world' });
    expect(response.headers.get('content-type')).toBe('audio/mpeg');
    const file = Buffer.from(await response.arrayBuffer());
    expect(file.toString('ascii', 0, 3)).toBe('ID3');
    const tagSize =
      ((file[6]! & 0x7f) << 21) | ((file[7]! & 0x7f) << 14) | ((file[8]! & 0x7f) << 7) | (file[9]! & 0x7f);
    let offset = 10 + tagSize;
    let frames = 0;
    const bitrates = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
    const rates = [44_100, 48_000, 32_000];
    while (offset < file.length) {
      expect(file[offset]).toBe(0xff);
      expect(file[offset + 1]! & 0xfe).toBe(0xfa); // frame sync, MPEG-1, Layer III
      const bitrate = bitrates[file[offset + 2]! >> 4]! * 1000;
      const rate = rates[(file[offset + 2]! >> 2) & 3]!;
      offset += Math.floor((144 * bitrate) / rate) + ((file[offset + 2]! >> 1) & 1);
      frames++;
    }
    expect(offset).toBe(file.length);
    expect(frames * (1152 / 48_000)).toBeCloseTo(0.8, 1); // two words
  });

  it('answers raw pcm, and 400 naming the formats it makes for others', async () => {
    const simulator = await startTestSimulator(fast);
    const client = clientFor(simulator);
    const pcm = await client.audio.speech.create({
      model: MODEL,
      voice: 'alloy',
      input: 'a b',
      response_format: 'pcm',
    });
    expect((await pcm.arrayBuffer()).byteLength).toBe(0.8 * 24_000 * 2);
    await expect(
      client.audio.speech.create({ model: MODEL, voice: 'alloy', input: 'a', response_format: 'flac' }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining('mp3, wav, pcm') });
  });
});

describe('engine simulator: images', () => {
  it('draws valid PNGs of the asked size, as b64_json or a data URL', async () => {
    const client = clientFor(await startTestSimulator(fast));
    const result = await client.images.generate({
      model: MODEL,
      prompt: 'a red circle',
      size: '256x128',
      n: 2,
      response_format: 'b64_json',
    });
    expect(result.data).toHaveLength(2);
    const [first, second] = (result.data ?? []).map((image) => Buffer.from(image.b64_json ?? '', 'base64'));
    expect(first?.equals(second!)).toBe(false);
    const png = first!;
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const chunks: Array<{ type: string; data: Buffer }> = [];
    for (let offset = 8; offset < png.length;) {
      const length = png.readUInt32BE(offset);
      const typed = png.subarray(offset + 4, offset + 8 + length);
      expect(png.readUInt32BE(offset + 8 + length)).toBe(crc32(typed));
      chunks.push({ type: typed.toString('ascii', 0, 4), data: typed.subarray(4) });
      offset += 12 + length;
    }
    expect(chunks.map((chunk) => chunk.type)).toEqual(['IHDR', 'tEXt', 'IDAT', 'IEND']);
    const header = chunks[0]!.data;
    expect([header.readUInt32BE(0), header.readUInt32BE(4)]).toEqual([256, 128]);
    expect(inflateSync(chunks[2]!.data).length).toBe((1 + 256 * 3) * 128);

    const asUrl = await client.images.generate({
      model: MODEL,
      prompt: 'a red circle',
      size: '64x64',
      response_format: 'url',
    });
    expect(asUrl.data?.[0]?.url).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
  });
});
