/** Byte helpers the tests share: cutting a body into chunks, joining pieces. */
import { concatBytes } from '../../src/bytes.ts';

/** Cuts `bytes` at the given offsets (taken modulo its length + 1; repeats and order do not matter). */
export function cutAt(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.slice(start, point));
    start = point;
  }
  return chunks;
}

export function joinBytes(pieces: Uint8Array[]): Uint8Array {
  return concatBytes(
    pieces,
    pieces.reduce((total, piece) => total + piece.byteLength, 0),
  );
}
