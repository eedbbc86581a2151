import { readBounded } from "../../shared/bytes.ts";

export { TooLargeError } from "../../shared/bytes.ts";

/**
 * Reads a message stream once into one buffer, refusing to hold more than `max` bytes. The
 * stream can be read only once, so every later step reuses these bytes.
 */
export function readRaw(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  return readBounded(stream, max);
}
