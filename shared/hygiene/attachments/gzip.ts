import { hasBytes, latin1, u16le, u32le } from "./bytes.ts";

/** A gzip file's single member: its stored name, where its DEFLATE data lies and the size it declares. */
export interface GzipMember {
  /** The original name (FNAME), or null when the compressor left it out. */
  name: string | null;
  data: Uint8Array;
  /** ISIZE: the uncompressed size modulo 2^32. */
  size: number;
  scanned: number;
}

const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const FHCRC = 0x02;
/** Longest FNAME or FCOMMENT read before giving up on a header as damaged. */
const MAX_FIELD = 1024;

/** Reads a gzip header (RFC 1952). Null when it is not one or is damaged. */
export function readGzip(bytes: Uint8Array): GzipMember | null {
  if (!hasBytes(bytes, 0, [0x1f, 0x8b, 0x08]) || bytes.length < 18) return null;
  const flags = bytes[3]!;
  let at = 10;
  if (flags & FEXTRA) at += 2 + u16le(bytes, at);
  let name: string | null = null;
  if (flags & FNAME) {
    const end = bytes.subarray(at, at + MAX_FIELD).indexOf(0);
    if (end < 0) return null;
    name = latin1(bytes.subarray(at, at + end));
    at += end + 1;
  }
  if (flags & FCOMMENT) {
    const end = bytes.subarray(at, at + MAX_FIELD).indexOf(0);
    if (end < 0) return null;
    at += end + 1;
  }
  if (flags & FHCRC) at += 2;
  if (at > bytes.length - 8) return null;
  return { name, data: bytes.subarray(at, bytes.length - 8), size: u32le(bytes, bytes.length - 4), scanned: at + 8 };
}
