/** Little helpers for reading binary formats without copying. Out-of-range reads return 0 / false. */

export function u16le(b: Uint8Array, at: number): number {
  return at + 2 <= b.length ? (b[at]! | (b[at + 1]! << 8)) >>> 0 : 0;
}

export function u32le(b: Uint8Array, at: number): number {
  return at + 4 <= b.length ? (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0 : 0;
}

export function u32be(b: Uint8Array, at: number): number {
  return at + 4 <= b.length ? ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0 : 0;
}

/** A 64-bit little-endian integer as a number; values past 2^53 come out inexact, which only ever makes them "too big". */
export function u64le(b: Uint8Array, at: number): number {
  return u32le(b, at) + u32le(b, at + 4) * 2 ** 32;
}

/** Whether `b` holds the bytes of `signature` (numbers, or an ASCII string) at `at`. */
export function hasBytes(b: Uint8Array, at: number, signature: readonly number[] | string): boolean {
  const length = signature.length;
  if (at < 0 || at + length > b.length) return false;
  for (let i = 0; i < length; i++) {
    const want = typeof signature === "string" ? signature.charCodeAt(i) : signature[i];
    if (b[at + i] !== want) return false;
  }
  return true;
}

/** Bytes as Latin-1 text: one character per byte, so offsets stay offsets. */
export function latin1(b: Uint8Array): string {
  let out = "";
  for (let i = 0; i < b.length; i += 8192) out += String.fromCharCode(...b.subarray(i, i + 8192));
  return out;
}

const utf8 = new TextDecoder("utf-8");

export function utf8Text(b: Uint8Array): string {
  return utf8.decode(b);
}

/** Joins chunks into one array. */
export function concatBytes(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  if (chunks.length === 1) return total === undefined ? chunks[0]! : chunks[0]!.subarray(0, total);
  const out = new Uint8Array(total ?? chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk.subarray(0, out.length - at), at);
    at += chunk.length;
    if (at >= out.length) break;
  }
  return out;
}

/** Attachment content from postal-mime, as bytes (it hands out ArrayBuffers with `attachmentEncoding: "arraybuffer"`). */
export function contentBytes(content: ArrayBuffer | Uint8Array | string, encoding?: "base64" | "utf8"): Uint8Array {
  if (content instanceof Uint8Array) return content;
  if (content instanceof ArrayBuffer) return new Uint8Array(content);
  if (encoding === "base64") return Uint8Array.from(atob(content), (c) => c.charCodeAt(0));
  return new TextEncoder().encode(content);
}
