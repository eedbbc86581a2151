import { hasBytes, latin1, utf8Text } from "./bytes.ts";

/** One file in a tar archive. */
export interface TarEntry {
  name: string;
  size: number;
  directory: boolean;
  dataOffset: number;
}

const BLOCK = 512;

/**
 * Lists a ustar / GNU / pax tar archive by its 512-byte headers, following GNU long names and pax
 * `path` records. Reads headers only: the work depends on the number of entries.
 */
export function listTar(bytes: Uint8Array, maxEntries: number): { entries: TarEntry[]; scanned: number } {
  const entries: TarEntry[] = [];
  let scanned = 0;
  let at = 0;
  let longName: string | null = null;
  while (at + BLOCK <= bytes.length && entries.length <= maxEntries && bytes[at] !== 0) {
    scanned += BLOCK;
    const size = octal(bytes.subarray(at + 124, at + 136));
    const type = String.fromCharCode(bytes[at + 156]!);
    const dataOffset = at + BLOCK;
    if (size < 0) break;
    if (type === "L") {
      longName = latin1(bytes.subarray(dataOffset, dataOffset + size)).replace(/\0.*$/s, "");
    } else if (type === "x") {
      longName = paxPath(bytes.subarray(dataOffset, dataOffset + size)) ?? longName;
    } else if (type !== "g") {
      let name = cString(bytes.subarray(at, at + 100));
      if (hasBytes(bytes, at + 257, "ustar")) {
        const prefix = cString(bytes.subarray(at + 345, at + 500));
        if (prefix !== "") name = `${prefix}/${name}`;
      }
      entries.push({ name: longName ?? name, size, directory: type === "5", dataOffset });
      longName = null;
    }
    scanned += type === "L" || type === "x" ? size : 0;
    at = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
  }
  return { entries, scanned };
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return utf8Text(end < 0 ? b : b.subarray(0, end));
}

/** A size field: octal digits, or base-256 when the high bit of the first byte is set. -1 if unreadable. */
function octal(field: Uint8Array): number {
  if ((field[0]! & 0x80) !== 0) {
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = latin1(field)
    .replace(/[\0 ]+$/, "")
    .trim();
  return /^[0-7]*$/.test(text) ? (text === "" ? 0 : parseInt(text, 8)) : -1;
}

/** The `path` record of a pax extended header ("<len> path=<value>\n"). */
function paxPath(b: Uint8Array): string | null {
  const match = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(utf8Text(b));
  return match?.[1] ?? null;
}
