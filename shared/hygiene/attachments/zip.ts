import { hasBytes, latin1, u16le, u32le, u64le, utf8Text } from "./bytes.ts";

/** One entry of a zip file, from its central directory (or, failing that, its local headers). */
export interface ZipEntry {
  /** The stored path, e.g. "word/vbaProject.bin". */
  name: string;
  /** The name in the entry's local header when it differs: extractors that read local headers see that one. */
  localName: string | null;
  method: number;
  encrypted: boolean;
  directory: boolean;
  compressedSize: number;
  size: number;
  /** Where the entry's data starts, or null when its local header is missing. */
  dataOffset: number | null;
}

export interface ZipListing {
  entries: ZipEntry[];
  /** False when there was no central directory and the entries come from local headers (a truncated or crafted zip). */
  complete: boolean;
  /** Bytes of directory structures read. */
  scanned: number;
}

const EOCD = "PK\x05\x06";
const EOCD64_LOCATOR = "PK\x06\x07";
const EOCD64 = "PK\x06\x06";
const CENTRAL = "PK\x01\x02";
const LOCAL = "PK\x03\x04";
/** The end record is 22 bytes plus a comment of at most 65,535: where to look for it. */
const EOCD_SEARCH = 22 + 0xffff;
/** Compression method 99: WinZip AES, always encrypted. */
const METHOD_AES = 99;

/**
 * Lists a zip file by its central directory, reading only directory structures: the work depends
 * on the number of entries, never on their size. Entries past `maxEntries` are not listed; the
 * caller sees `entries.length > maxEntries` and refuses the file.
 *
 * @example
 * listZip(zipSync({ "a.txt": strToU8("hi") }), 100).entries[0].name // "a.txt"
 */
export function listZip(bytes: Uint8Array, maxEntries: number): ZipListing {
  const eocd = findEndRecord(bytes);
  if (eocd < 0) return listLocalHeaders(bytes, maxEntries);
  let count = u16le(bytes, eocd + 10);
  let cdSize = u32le(bytes, eocd + 12);
  let cdOffset = u32le(bytes, eocd + 16);
  let scanned = bytes.length - eocd;
  const locator = eocd - 20;
  if ((count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) && hasBytes(bytes, locator, EOCD64_LOCATOR)) {
    const at = u64le(bytes, locator + 8);
    if (hasBytes(bytes, at, EOCD64)) {
      count = u64le(bytes, at + 32);
      cdSize = u64le(bytes, at + 40);
      cdOffset = u64le(bytes, at + 48);
      scanned += 56;
    }
  }
  // Self-extracting archives and zips with junk prepended store offsets relative to where the zip
  // began: the directory really ends where the end record starts.
  const cdStart = hasBytes(bytes, cdOffset, CENTRAL) || count === 0 ? cdOffset : eocd - cdSize;
  const shift = cdStart - cdOffset;
  const entries: ZipEntry[] = [];
  let at = cdStart;
  // Every record present is read, whatever the end record counts: unpackers differ on which to trust.
  while (entries.length <= maxEntries && hasBytes(bytes, at, CENTRAL)) {
    const flags = u16le(bytes, at + 8);
    const method = u16le(bytes, at + 10);
    let compressedSize = u32le(bytes, at + 20);
    let size = u32le(bytes, at + 24);
    const nameLength = u16le(bytes, at + 28);
    const extraLength = u16le(bytes, at + 30);
    const commentLength = u16le(bytes, at + 32);
    let localOffset = u32le(bytes, at + 42);
    const nameBytes = bytes.subarray(at + 46, at + 46 + nameLength);
    const name = flags & 0x800 ? utf8Text(nameBytes) : latin1(nameBytes);
    const zip64 = zip64Fields(bytes, at + 46 + nameLength, extraLength, size === 0xffffffff, compressedSize === 0xffffffff, localOffset === 0xffffffff);
    size = zip64.size ?? size;
    compressedSize = zip64.compressedSize ?? compressedSize;
    localOffset = (zip64.offset ?? localOffset) + shift;
    const local = readLocalHeader(bytes, localOffset);
    entries.push({
      name,
      localName: local !== null && local.name !== name ? local.name : null,
      method,
      encrypted: (flags & 0x1) !== 0 || method === METHOD_AES,
      directory: name.endsWith("/") || name.endsWith("\\"),
      compressedSize,
      size,
      dataOffset: local?.dataOffset ?? null,
    });
    const length = 46 + nameLength + extraLength + commentLength;
    scanned += length + (local?.length ?? 0);
    at += length;
  }
  // A directory that lists fewer entries than its end record counts (or none) is damaged: fall
  // back to the local headers, as forgiving unpackers do.
  if (entries.length === 0 && count > 0) return listLocalHeaders(bytes, maxEntries);
  return { entries, complete: true, scanned };
}

function findEndRecord(bytes: Uint8Array): number {
  const stop = Math.max(0, bytes.length - EOCD_SEARCH);
  for (let at = bytes.length - 22; at >= stop; at--) {
    if (bytes[at] === 0x50 && hasBytes(bytes, at, EOCD)) return at;
  }
  return -1;
}

function zip64Fields(bytes: Uint8Array, start: number, length: number, wantSize: boolean, wantCompressed: boolean, wantOffset: boolean) {
  const out: { size?: number; compressedSize?: number; offset?: number } = {};
  for (let at = start; at + 4 <= start + length;) {
    const id = u16le(bytes, at);
    const size = u16le(bytes, at + 2);
    if (id === 0x0001) {
      let field = at + 4;
      if (wantSize) {
        out.size = u64le(bytes, field);
        field += 8;
      }
      if (wantCompressed) {
        out.compressedSize = u64le(bytes, field);
        field += 8;
      }
      if (wantOffset) out.offset = u64le(bytes, field);
      break;
    }
    at += 4 + size;
  }
  return out;
}

function readLocalHeader(bytes: Uint8Array, at: number): { name: string; dataOffset: number; length: number } | null {
  if (!hasBytes(bytes, at, LOCAL)) return null;
  const flags = u16le(bytes, at + 6);
  const nameLength = u16le(bytes, at + 26);
  const extraLength = u16le(bytes, at + 28);
  const nameBytes = bytes.subarray(at + 30, at + 30 + nameLength);
  return { name: flags & 0x800 ? utf8Text(nameBytes) : latin1(nameBytes), dataOffset: at + 30 + nameLength + extraLength, length: 30 + nameLength };
}

/** Walks local headers from the start: the only listing a zip without a central directory has. */
function listLocalHeaders(bytes: Uint8Array, maxEntries: number): ZipListing {
  const entries: ZipEntry[] = [];
  let scanned = 0;
  let at = hasBytes(bytes, 0, "PK\x07\x08") ? 4 : 0;
  while (entries.length <= maxEntries && hasBytes(bytes, at, LOCAL)) {
    const flags = u16le(bytes, at + 6);
    const method = u16le(bytes, at + 8);
    const compressedSize = u32le(bytes, at + 18);
    const size = u32le(bytes, at + 22);
    const local = readLocalHeader(bytes, at)!;
    // With a data descriptor (bit 3) the sizes follow the data; DEFLATE ends by itself, so the
    // rest of the file is handed over and the next header cannot be found.
    const streamed = (flags & 0x8) !== 0 || compressedSize === 0xffffffff;
    entries.push({
      name: local.name,
      localName: null,
      method,
      encrypted: (flags & 0x1) !== 0 || method === METHOD_AES,
      directory: local.name.endsWith("/"),
      compressedSize: streamed ? Math.max(0, bytes.length - local.dataOffset) : Math.min(compressedSize, bytes.length - local.dataOffset),
      size: streamed ? 0 : size,
      dataOffset: local.dataOffset,
    });
    scanned += local.length;
    if (streamed) break;
    at = local.dataOffset + compressedSize;
  }
  return { entries, complete: false, scanned };
}
