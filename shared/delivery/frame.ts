import type { Delivery } from "../delivery.ts";

/**
 * One delivery as bytes: how a message travels over signed HTTPS to a hub and how it rests in the
 * spool. Binary, so a 25 MiB message is not inflated by base64:
 *
 *   "PCDL1\n" | u32 big-endian header length | header (UTF-8 JSON: every Delivery field but raw) | raw
 */
const MAGIC = new TextEncoder().encode("PCDL1\n");

/**
 * Largest JSON header a frame may carry (bytes). A verdict with every agent's outcome is a few
 * KiB; the cap stops a corrupt or hostile length field from making the reader allocate or parse
 * megabytes of "header".
 */
export const MAX_FRAME_HEADER_BYTES = 256 * 1024;

export class FrameError extends Error {
  override name = "FrameError";
}

export function encodeDelivery(d: Delivery): Uint8Array {
  const { raw, ...rest } = d;
  const header = new TextEncoder().encode(JSON.stringify(rest));
  if (header.byteLength > MAX_FRAME_HEADER_BYTES) throw new FrameError(`delivery header is ${header.byteLength} bytes, over ${MAX_FRAME_HEADER_BYTES}`);
  const out = new Uint8Array(MAGIC.byteLength + 4 + header.byteLength + raw.byteLength);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.byteLength, header.byteLength);
  out.set(header, MAGIC.byteLength + 4);
  out.set(raw, MAGIC.byteLength + 4 + header.byteLength);
  return out;
}

/** Reads a frame back. The raw bytes are a view into `bytes`, not a copy. Throws {@link FrameError} for anything that is not a frame. */
export function decodeDelivery(bytes: Uint8Array): Delivery {
  if (bytes.byteLength < MAGIC.byteLength + 4) throw new FrameError("too short to be a delivery frame");
  for (let i = 0; i < MAGIC.byteLength; i++) if (bytes[i] !== MAGIC[i]) throw new FrameError("not a delivery frame (bad magic)");
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.byteLength);
  const start = MAGIC.byteLength + 4;
  if (length > MAX_FRAME_HEADER_BYTES || start + length > bytes.byteLength) throw new FrameError("delivery frame header length is out of range");
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes.subarray(start, start + length)));
  } catch (err) {
    throw new FrameError(`delivery frame header is not JSON: ${String(err)}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new FrameError("delivery frame header is not an object");
  return { ...(header as Omit<Delivery, "raw">), raw: bytes.subarray(start + length) };
}
