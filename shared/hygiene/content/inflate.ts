import { Inflate, Unzlib } from "fflate";

/** Input bytes handed to the inflater at a time: deflate expands at most ~1032×, so one push yields at most ~1 MiB. */
const PUSH_BYTES = 1024;

/** Inflating would pass the byte budget. */
export class InflateBudgetError extends Error {
  override name = "InflateBudgetError";
}

/**
 * Inflates a zlib (or raw deflate) stream without ever holding more than `maxBytes` of output:
 * the input is pushed in small pieces and the output counted as it comes, so a decompression
 * bomb stops at the budget instead of filling the isolate. A damaged or truncated stream gives
 * what was inflated before the damage.
 */
export function inflateBounded(data: Uint8Array, maxBytes: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const onData = (chunk: Uint8Array): void => {
    total += chunk.length;
    if (total > maxBytes) throw new InflateBudgetError(`inflated output passes ${maxBytes} bytes`);
    chunks.push(chunk);
  };
  // A zlib header: compression method 8 and a header checksum divisible by 31.
  const zlib = data.length >= 2 && (data[0]! & 0x0f) === 8 && ((data[0]! << 8) | data[1]!) % 31 === 0;
  const stream = zlib ? new Unzlib(onData) : new Inflate(onData);
  try {
    for (let i = 0; i < data.length; i += PUSH_BYTES) stream.push(data.subarray(i, i + PUSH_BYTES), i + PUSH_BYTES >= data.length);
  } catch (err) {
    if (err instanceof InflateBudgetError) throw err;
    // Damaged data: keep the text inflated so far.
  }
  const out = new Uint8Array(Math.min(total, maxBytes));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
