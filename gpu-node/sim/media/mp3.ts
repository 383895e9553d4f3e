/**
 * A valid MP3 stream without an encoder: MPEG-1 Layer III frames whose side information is all
 * zero, which every decoder plays as silence, behind an ID3v2.3 tag naming the simulator. Mono,
 * 48 kHz, 32 kbit/s: each frame is 96 bytes (144 × 32000 / 48000, no padding ever) and lasts
 * 1152 samples (24 ms). The length follows the text like the WAV's; the sound is silence.
 */
const FRAME_HEADER = Buffer.from([0xff, 0xfb, 0x14, 0xc4]); // sync, MPEG-1, Layer III, no CRC; 32 kbit/s, 48 kHz; mono, original
const FRAME_BYTES = 96;
export const MP3_FRAME_SECONDS = 1152 / 48_000;

const SOFTWARE = 'switchyard-sim (simulated speech, not a TTS model)';

function syncsafe(size: number): Buffer {
  return Buffer.from([(size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f]);
}

function id3Tag(): Buffer {
  const text = Buffer.concat([Buffer.from([0]), Buffer.from(SOFTWARE, 'latin1')]); // encoding 0: ISO-8859-1
  const frameHeader = Buffer.alloc(10);
  frameHeader.write('TSSE', 0, 'ascii');
  frameHeader.writeUInt32BE(text.length, 4);
  const frames = Buffer.concat([frameHeader, text]);
  return Buffer.concat([
    Buffer.from('ID3', 'ascii'),
    Buffer.from([3, 0, 0]),
    syncsafe(frames.length),
    frames,
  ]);
}

export function mp3File(seconds: number): Buffer {
  const frames = Math.max(1, Math.ceil(seconds / MP3_FRAME_SECONDS));
  const frame = Buffer.alloc(FRAME_BYTES);
  FRAME_HEADER.copy(frame);
  return Buffer.concat([id3Tag(), ...Array.from({ length: frames }, () => frame)]);
}
