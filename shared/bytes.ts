/** Byte helpers shared by the workers, the CLI and the tests. */

/** One buffer holding `parts` end to end. */
export function concatBytes(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** A stream was longer than the caller allows. */
export class TooLargeError extends Error {
  override name = "TooLargeError";
}

/**
 * Reads a stream once into one buffer, refusing (and cancelling the stream) past `max` bytes
 * instead of buffering without bound. When the stream arrives in one chunk, that chunk is returned
 * as it is (no copy).
 */
export async function readBounded(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new TooLargeError(`stream exceeds ${max} bytes`);
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
}
