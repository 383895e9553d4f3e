/** Reading web streams into bytes, under a cap: for request bodies and small error bodies. */

/** Joins chunks read from a stream into one buffer. */
export function concatBytes(chunks: Uint8Array[], total: number): Uint8Array {
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

export type CappedRead = { bytes: Uint8Array; overLimit: boolean };

/**
 * Reads a stream to its end, or until it has yielded more than `maxBytes`; then it is
 * cancelled and `overLimit` is set, with the bytes read up to the cap.
 */
export async function readCapped(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<CappedRead> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { bytes: concatBytes(chunks, total), overLimit: false };
    if (total + value.byteLength > maxBytes) {
      chunks.push(value.subarray(0, maxBytes - total));
      await reader.cancel();
      return { bytes: concatBytes(chunks, maxBytes), overLimit: true };
    }
    chunks.push(value);
    total += value.byteLength;
  }
}
