/**
 * A valid PNG without an image library: 8-bit RGB, a diagonal gradient between two colours and a
 * disc, all chosen by a seed (so a prompt always draws the same picture), deflated with node:zlib,
 * and a tEXt chunk naming the simulator as the software.
 */
import { crc32, deflateSync } from 'node:zlib';
import { seededRandom } from '../text-model.ts';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

export function pngImage(width: number, height: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const colour = (): number[] => [0, 0, 0].map(() => Math.floor(random() * 256));
  const [from, to, disc] = [colour(), colour(), colour()];
  const [cx, cy, radius] = [
    random() * width,
    random() * height,
    (0.15 + random() * 0.25) * Math.min(width, height),
  ];
  const rowBytes = 1 + width * 3;
  const raw = Buffer.alloc(rowBytes * height);
  for (let y = 0; y < height; y++) {
    raw[y * rowBytes] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const inside = (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2;
      const t = (x + y) / (width + height);
      for (let channel = 0; channel < 3; channel++) {
        const start = from[channel] ?? 0;
        const value = inside ? (disc[channel] ?? 0) : start + ((to[channel] ?? 0) - start) * t;
        raw[y * rowBytes + 1 + x * 3 + channel] = Math.round(value);
      }
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, adaptive filtering, no interlace
  const text = Buffer.from('Software\0switchyard-sim (simulated image, not a diffusion model)', 'latin1');
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('tEXt', text),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
