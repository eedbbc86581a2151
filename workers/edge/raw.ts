/** The raw stream was longer than allowed (rawSize understated it). */
export class TooLargeError extends Error {
  override name = "TooLargeError";
}

/**
 * Reads a message stream once into one buffer, refusing to hold more than `max` bytes. The
 * stream can be read only once, so every later step reuses these bytes.
 */
export async function readRaw(stream: ReadableStream<Uint8Array>, sizeHint: number, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new TooLargeError(`message stream exceeds ${max} bytes`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1 && total === sizeHint) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
