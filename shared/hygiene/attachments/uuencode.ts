import { latin1 } from "./bytes.ts";

/** The `begin` line of a uuencoded (or `begin-base64`) block. */
export interface UuBlock {
  name: string;
  base64: boolean;
  /** Offset of the first encoded line. */
  dataOffset: number;
}

const BEGIN = /^begin(-base64)? [0-7]{3,4} ([^\r\n]+)\r?\n/;
/** Blank lines tolerated before `begin` at the start of an attachment. */
const MAX_LEADING = 16;

/** The uuencoded block an attachment consists of (Content-Transfer-Encoding: x-uuencode, which the parser leaves encoded), or null. */
export function uuBlockAt(bytes: Uint8Array): UuBlock | null {
  const head = latin1(bytes.subarray(0, MAX_LEADING + 512));
  const leading = /^[\r\n]*/.exec(head)![0].length;
  if (leading > MAX_LEADING) return null;
  const match = BEGIN.exec(head.slice(leading));
  if (match === null) return null;
  return { name: match[2]!.trim(), base64: match[1] !== undefined, dataOffset: leading + match[0].length };
}

/**
 * Every uuencoded block inside a text body, as old mail clients sent attachments: the text from
 * each `begin` line through its `end` line (or the end of the body).
 */
export function uuBlocksIn(text: string, max: number): string[] {
  const blocks: string[] = [];
  // Most bodies hold no "begin" at all: indexOf says so faster than a multiline search.
  if (!text.includes("begin")) return blocks;
  for (const match of text.matchAll(/^begin(-base64)? [0-7]{3,4} [^\r\n]+\r?\n/gm)) {
    if (blocks.length >= max) break;
    const terminator = match[1] !== undefined ? "\n====" : "\nend";
    const end = text.indexOf(terminator, match.index);
    blocks.push(text.slice(match.index, end < 0 ? text.length : end + terminator.length + 1));
  }
  return blocks;
}

/**
 * Decodes a block line by line until its end line or until `maxOut` bytes are out, so the start
 * of a large block costs what the start of a small one does.
 */
export function decodeUu(text: Uint8Array, block: UuBlock, maxOut: number): { bytes: Uint8Array; ended: boolean; consumed: number } {
  const out: number[] = [];
  let at = block.dataOffset;
  let ended = false;
  while (at < text.length && out.length < maxOut) {
    let end = text.indexOf(0x0a, at);
    if (end < 0) end = text.length;
    const line = latin1(text.subarray(at, end)).replace(/\r$/, "");
    at = end + 1;
    if (block.base64 ? line === "====" : line === "end") {
      ended = true;
      break;
    }
    if (block.base64) {
      const clean = line.replace(/[^A-Za-z0-9+/=]/g, "");
      try {
        for (const c of atob(clean.padEnd(Math.ceil(clean.length / 4) * 4, "="))) out.push(c.charCodeAt(0));
      } catch {
        break;
      }
      continue;
    }
    if (line.length === 0) continue;
    const length = (line.charCodeAt(0) - 32) & 63;
    const bytes: number[] = [];
    for (let i = 1; bytes.length < length && i + 1 < line.length; i += 4) {
      const c = [0, 1, 2, 3].map((k) => (i + k < line.length ? (line.charCodeAt(i + k) - 32) & 63 : 0));
      bytes.push(((c[0]! << 2) | (c[1]! >> 4)) & 0xff, ((c[1]! << 4) | (c[2]! >> 2)) & 0xff, ((c[2]! << 6) | c[3]!) & 0xff);
    }
    for (const b of bytes.slice(0, length)) out.push(b);
  }
  if (at >= text.length) ended = true;
  return { bytes: Uint8Array.from(out.slice(0, maxOut)), ended: ended && out.length <= maxOut, consumed: at - block.dataOffset };
}
