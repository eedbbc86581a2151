import { hasBytes, latin1, u16le, u32le, utf8Text } from "./bytes.ts";

/** One file in a RAR archive, from its block headers. */
export interface RarEntry {
  name: string;
  size: number;
  compressedSize: number;
  encrypted: boolean;
  directory: boolean;
  /** Stored without compression: its bytes can be read in place. */
  stored: boolean;
  dataOffset: number;
}

export interface RarListing {
  entries: RarEntry[];
  /** The archive's headers are encrypted (`rar -hp`): not even the names can be read. */
  headersEncrypted: boolean;
  scanned: number;
}

const RAR4 = "Rar!\x1a\x07\x00";
const RAR5 = "Rar!\x1a\x07\x01\x00";

/**
 * Lists a RAR 4 or RAR 5 archive by walking its block headers, which name every file, its sizes
 * and whether it is encrypted — without decompressing anything (RAR's compression is not
 * available here). Work depends on the number of entries, not their size.
 */
export function listRar(bytes: Uint8Array, maxEntries: number): RarListing {
  if (hasBytes(bytes, 0, RAR5)) return listRar5(bytes, maxEntries);
  if (hasBytes(bytes, 0, RAR4)) return listRar4(bytes, maxEntries);
  return { entries: [], headersEncrypted: false, scanned: 0 };
}

function listRar4(bytes: Uint8Array, maxEntries: number): RarListing {
  const entries: RarEntry[] = [];
  let headersEncrypted = false;
  let scanned = 7;
  let at = 7;
  while (at + 7 <= bytes.length && entries.length <= maxEntries) {
    const type = bytes[at + 2]!;
    const flags = u16le(bytes, at + 3);
    const size = u16le(bytes, at + 5);
    if (size < 7) break;
    scanned += size;
    let next = at + size + (flags & 0x8000 ? u32le(bytes, at + 7) : 0);
    if (type === 0x73) {
      // MHD_PASSWORD: every following header is encrypted.
      if (flags & 0x0080) {
        headersEncrypted = true;
        break;
      }
    } else if (type === 0x74) {
      const compressedSize = u32le(bytes, at + 7) + (flags & 0x100 ? u32le(bytes, at + 32) * 2 ** 32 : 0);
      const fileSize = u32le(bytes, at + 11) + (flags & 0x100 ? u32le(bytes, at + 36) * 2 ** 32 : 0);
      const nameSize = u16le(bytes, at + 26);
      const nameAt = at + (flags & 0x100 ? 40 : 32);
      const raw = bytes.subarray(nameAt, Math.min(nameAt + nameSize, at + size));
      entries.push({
        name: flags & 0x200 ? rar4UnicodeName(raw) : latin1(raw),
        size: fileSize,
        compressedSize,
        encrypted: (flags & 0x04) !== 0,
        directory: (flags & 0xe0) === 0xe0,
        stored: bytes[at + 25] === 0x30,
        dataOffset: at + size,
      });
      next = at + size + compressedSize;
    } else if (type === 0x7b) {
      break;
    }
    if (next <= at) break;
    at = next;
  }
  return { entries, headersEncrypted, scanned };
}

/** RAR 4 stores a Unicode name as an OEM name, a NUL and a compact encoding relative to it. */
function rar4UnicodeName(raw: Uint8Array): string {
  const nul = raw.indexOf(0);
  if (nul < 0) return utf8Text(raw);
  const name = raw.subarray(0, nul);
  const enc = raw.subarray(nul + 1);
  const out: number[] = [];
  let pos = 0;
  const high = enc[pos++] ?? 0;
  let flags = 0;
  let bits = 0;
  while (pos < enc.length) {
    if (bits === 0) {
      flags = enc[pos++]!;
      bits = 8;
    }
    switch (flags >> 6) {
      case 0:
        out.push(enc[pos++] ?? 0);
        break;
      case 1:
        out.push((enc[pos++] ?? 0) + (high << 8));
        break;
      case 2:
        out.push((enc[pos] ?? 0) + ((enc[pos + 1] ?? 0) << 8));
        pos += 2;
        break;
      default: {
        let length = enc[pos++] ?? 0;
        const correction = length & 0x80 ? (enc[pos++] ?? 0) : null;
        for (length = (length & 0x7f) + 2; length > 0 && out.length < name.length; length--) {
          const c = name[out.length]!;
          out.push(correction === null ? c : ((c + correction) & 0xff) + (high << 8));
        }
      }
    }
    flags = (flags << 2) & 0xff;
    bits -= 2;
  }
  return String.fromCharCode(...out);
}

/** A RAR 5 variable-length integer: 7 bits a byte, low first. */
function vint(bytes: Uint8Array, at: number): [value: number, length: number] {
  let value = 0;
  for (let i = 0; i < 10 && at + i < bytes.length; i++) {
    const byte = bytes[at + i]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return [value, i + 1];
  }
  return [value, 0];
}

function listRar5(bytes: Uint8Array, maxEntries: number): RarListing {
  const entries: RarEntry[] = [];
  let headersEncrypted = false;
  let scanned = 8;
  let at = 8;
  while (at + 6 <= bytes.length && entries.length <= maxEntries) {
    const [headerSize, sizeLength] = vint(bytes, at + 4);
    if (sizeLength === 0 || headerSize === 0) break;
    const start = at + 4 + sizeLength;
    const end = start + headerSize;
    scanned += 4 + sizeLength + headerSize;
    let p = start;
    const read = () => {
      const [value, length] = vint(bytes, p);
      p += Math.max(length, 1);
      return value;
    };
    const type = read();
    const flags = read();
    const extraSize = flags & 0x1 ? read() : 0;
    const dataSize = flags & 0x2 ? read() : 0;
    if (type === 4) {
      headersEncrypted = true;
      break;
    }
    if (type === 5) break;
    if (type === 2) {
      const fileFlags = read();
      const size = read();
      read(); // attributes
      if (fileFlags & 0x2) p += 4;
      if (fileFlags & 0x4) p += 4;
      const compression = read();
      read(); // host OS
      const nameLength = read();
      const name = utf8Text(bytes.subarray(p, Math.min(p + nameLength, end)));
      entries.push({
        name,
        size,
        compressedSize: dataSize,
        encrypted: hasEncryptionRecord(bytes, end - extraSize, end),
        directory: (fileFlags & 0x1) !== 0,
        stored: ((compression >> 7) & 0x7) === 0,
        dataOffset: end,
      });
    }
    const next = end + dataSize;
    if (next <= at) break;
    at = next;
  }
  return { entries, headersEncrypted, scanned };
}

/** Whether a RAR 5 extra area holds a file encryption record (type 1). */
function hasEncryptionRecord(bytes: Uint8Array, start: number, end: number): boolean {
  let p = start;
  while (p < end) {
    const [size, sizeLength] = vint(bytes, p);
    if (sizeLength === 0 || size === 0) return false;
    const [type] = vint(bytes, p + sizeLength);
    if (type === 1) return true;
    p += sizeLength + size;
  }
  return false;
}
