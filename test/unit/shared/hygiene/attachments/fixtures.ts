/** Builders for the attachment tests: messages with parts, and the EICAR test string, made at test time. */
import type { Email } from "postal-mime";
import { memoryDirectory } from "../../../../../shared/directory/memory.ts";
import type { DirectoryReader } from "../../../../../shared/directory/reader.ts";
import { attachmentFilter } from "../../../../../shared/hygiene/agents/attachment-filter.ts";
import { limits } from "../../../../../shared/hygiene/agents/limits.ts";
import { malware } from "../../../../../shared/hygiene/agents/malware.ts";
import { parseMessage } from "../../../../../shared/hygiene/parse.ts";
import { runPipeline } from "../../../../../shared/hygiene/pipeline.ts";
import type { Agent, PipelineResult } from "../../../../../shared/hygiene/types.ts";

const encoder = new TextEncoder();

/**
 * The EICAR test string, assembled here so no copy of the test file is stored in the repository
 * (scanners on developers' machines would quarantine the source file).
 */
export function eicar(): string {
  return ["X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-", "ANTIVIRUS-TEST-FILE!", "$H+H*"].join("");
}

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Bytes as Latin-1 text, one character per byte. */
export function latin1Of(data: Uint8Array): string {
  let out = "";
  for (const b of data) out += String.fromCharCode(b);
  return out;
}

export function base64Of(data: Uint8Array): string {
  let out = "";
  for (let i = 0; i < data.length; i += 0x8000) out += String.fromCharCode(...data.subarray(i, i + 0x8000));
  return btoa(out).replace(/.{76}/g, "$&\r\n");
}

/** Quoted-printable with every byte escaped: the decoder must do the work. */
export function quotedPrintableOf(data: Uint8Array): string {
  return [...data]
    .map((b) => `=${b.toString(16).toUpperCase().padStart(2, "0")}`)
    .join("")
    .replace(/.{72}/g, "$&=\r\n");
}

/** A uuencoded block, as `uuencode` writes it. */
export function uuencode(name: string, data: Uint8Array): string {
  const char = (v: number) => (v === 0 ? "`" : String.fromCharCode(v + 32));
  const lines = [`begin 644 ${name}`];
  for (let i = 0; i < data.length; i += 45) {
    const chunk = data.subarray(i, i + 45);
    let line = char(chunk.length);
    for (let j = 0; j < chunk.length; j += 3) {
      const [a = 0, b = 0, c = 0] = [chunk[j], chunk[j + 1], chunk[j + 2]];
      line += char(a >> 2) + char(((a << 4) | (b >> 4)) & 63) + char(((b << 2) | (c >> 6)) & 63) + char(c & 63);
    }
    lines.push(line);
  }
  lines.push("`", "end", "");
  return lines.join("\n");
}

export interface Part {
  /** File name; omitted for a part without one. */
  name?: string;
  type: string;
  content: Uint8Array | string;
  encoding?: "base64" | "quoted-printable" | "7bit" | "x-uuencode";
  disposition?: "attachment" | "inline";
}

/** A multipart/mixed message with a short text part and the given parts. */
let boundaries = 0;

export function messageWith(parts: Part[], options: { text?: string; subject?: string } = {}): Uint8Array {
  // Each message its own boundary, so a message can be attached to another.
  const boundary = `=_portcullis_test_boundary_${++boundaries}`;
  const lines = [
    "From: Sender <sender@example.net>",
    "To: alice@example.com",
    `Subject: ${options.subject ?? "attachment test"}`,
    "Date: Sat, 21 Nov 2026 09:00:00 +0000",
    "Message-ID: <attachment-test@example.net>",
    "MIME-Version: 1.0",
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=utf-8",
    "",
    options.text ?? "See attachment.",
  ];
  for (const part of parts) {
    const encoding = part.encoding ?? "base64";
    const data = typeof part.content === "string" ? bytes(part.content) : part.content;
    // Non-ASCII names as RFC 2047 encoded words, as mail clients send them.
    const encodedName = part.name === undefined || /^[\x20-\x7e]*$/.test(part.name) ? part.name : `=?UTF-8?B?${base64Of(bytes(part.name))}?=`;
    const name = encodedName === undefined ? "" : `; name="${encodedName}"`;
    lines.push(`--${boundary}`, `Content-Type: ${part.type}${name}`, `Content-Transfer-Encoding: ${encoding}`);
    if (part.name !== undefined || part.disposition !== undefined) {
      lines.push(`Content-Disposition: ${part.disposition ?? "attachment"}${encodedName === undefined ? "" : `; filename="${encodedName}"`}`);
    }
    lines.push("");
    if (encoding === "base64") lines.push(base64Of(data));
    else if (encoding === "quoted-printable") lines.push(quotedPrintableOf(data));
    else lines.push(latin1Of(data));
  }
  lines.push(`--${boundary}--`, "");
  // Latin-1 all the way, so 7bit parts carry their bytes unchanged.
  return Uint8Array.from(lines.join("\r\n"), (c) => c.charCodeAt(0) & 0xff);
}

export async function parsed(raw: Uint8Array): Promise<Email> {
  const result = await parseMessage(raw);
  if (!result.ok) throw new Error(`test message does not parse: ${JSON.stringify(result.reason)}`);
  return result.email;
}

/** A directory with one recipient and the given policies. */
export function directoryWith(policies: Record<string, unknown>): Promise<DirectoryReader> {
  return memoryDirectory({ domains: ["example.com"], recipients: ["alice@example.com"], policies });
}

export const ATTACHMENT_AGENTS: readonly Agent[] = [limits, attachmentFilter, malware];

/** Runs the size gate, the attachment filter and the malware agent over a message, as the edge would. */
export function scan(raw: Uint8Array, directory: DirectoryReader | null = null, agents: readonly Agent[] = ATTACHMENT_AGENTS): Promise<PipelineResult> {
  return runPipeline({ envelope: { from: "sender@example.net", to: ["alice@example.com"] }, raw }, { directory }, { agents });
}

/** Offsets of every occurrence of a 4-byte signature. */
export function offsetsOf(zip: Uint8Array, signature: string): number[] {
  const out: number[] = [];
  const text = latin1Of(zip);
  for (let at = text.indexOf(signature); at >= 0; at = text.indexOf(signature, at + 1)) out.push(at);
  return out;
}

/** Sets the "encrypted" flag (bit 0) on every entry, in the local and the central headers. */
export function markEncrypted(zip: Uint8Array): Uint8Array {
  const out = zip.slice();
  for (const at of offsetsOf(out, "PK\x03\x04")) out[at + 6]! |= 1;
  for (const at of offsetsOf(out, "PK\x01\x02")) out[at + 8]! |= 1;
  return out;
}

/** A ustar archive of the given files (and a GNU long name when a name does not fit in 100 bytes). */
export function tarOf(files: Record<string, Uint8Array>): Uint8Array {
  const blocks: Uint8Array[] = [];
  const header = (name: string, size: number, type: string) => {
    const block = new Uint8Array(512);
    block.set(bytes(name.slice(0, 99)), 0);
    block.set(bytes(size.toString(8).padStart(11, "0")), 124);
    block[156] = type.charCodeAt(0);
    block.set(bytes("ustar\x0000"), 257);
    return block;
  };
  const data = (content: Uint8Array) => {
    const padded = new Uint8Array(Math.ceil(content.length / 512) * 512);
    padded.set(content);
    return padded;
  };
  for (const [name, content] of Object.entries(files)) {
    if (name.length > 99) blocks.push(header("././@LongLink", name.length + 1, "L"), data(bytes(`${name}\0`)));
    blocks.push(header(name, content.length, "0"), data(content));
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** The root CLSID of an MSI package, {000C1084-0000-0000-C000-000000000046}, as stored. */
export const MSI_CLSID = [0x84, 0x10, 0x0c, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46];

/**
 * A minimal OLE2 compound file (512-byte sectors): sector 0 is the FAT, sectors 1… the directory,
 * one sector per four entries, chained through the FAT. `loop` makes the directory chain point
 * back at itself, as a crafted file would.
 */
export function ole2Of(names: string[], options: { rootClsid?: number[]; loop?: boolean; padding?: number } = {}): Uint8Array {
  const entries = ["Root Entry", ...names];
  const dirSectors = Math.ceil(entries.length / 4);
  const out = new Uint8Array(512 * (2 + dirSectors) + (options.padding ?? 0));
  const view = new DataView(out.buffer);
  out.set([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
  view.setUint16(0x18, 0x3e, true);
  view.setUint16(0x1a, 3, true);
  view.setUint16(0x1c, 0xfffe, true);
  view.setUint16(0x1e, 9, true);
  view.setUint16(0x20, 6, true);
  view.setUint32(0x2c, 1, true);
  view.setUint32(0x30, 1, true);
  view.setUint32(0x38, 0x1000, true);
  view.setUint32(0x3c, 0xfffffffe, true);
  view.setUint32(0x44, 0xfffffffe, true);
  for (let i = 0; i < 109; i++) view.setUint32(0x4c + i * 4, i === 0 ? 0 : 0xffffffff, true);
  const fat = 512;
  for (let i = 0; i < 128; i++) view.setUint32(fat + i * 4, 0xffffffff, true);
  view.setUint32(fat, 0xfffffffd, true);
  for (let s = 1; s <= dirSectors; s++) view.setUint32(fat + s * 4, s === dirSectors ? (options.loop ? 1 : 0xfffffffe) : s + 1, true);
  entries.forEach((name, i) => {
    const at = 1024 + i * 128;
    for (let c = 0; c < Math.min(name.length, 31); c++) view.setUint16(at + c * 2, name.charCodeAt(c), true);
    view.setUint16(at + 0x40, (Math.min(name.length, 31) + 1) * 2, true);
    out[at + 0x42] = i === 0 ? 5 : 2;
    if (i === 0 && options.rootClsid) out.set(options.rootClsid, at + 0x50);
  });
  return out;
}

/** A parsed message built directly, for attachments too large to send through the size gate. */
export function emailOf(attachments: { filename: string | null; mimeType: string; content: Uint8Array }[], text?: string): Email {
  return {
    headers: [],
    headerLines: [],
    text,
    attachments: attachments.map((a) => ({ filename: a.filename, mimeType: a.mimeType, disposition: "attachment", content: a.content })),
  };
}

/** Deterministic bytes that compress about as well as real binary data (roughly 4:3). */
export function noise(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0x3f;
  }
  return out;
}

/** A RAR 4 archive with one stored file, built from the block layout (CRCs are not checked by the lister). */
export function rar4(name: string, content: Uint8Array, options: { encrypted?: boolean; headersEncrypted?: boolean } = {}): Uint8Array {
  const marker = bytes("Rar!\x1a\x07\x00");
  const main = Uint8Array.of(0, 0, 0x73, options.headersEncrypted ? 0x80 : 0, 0, 13, 0, 0, 0, 0, 0, 0, 0);
  const nameBytes = bytes(name);
  const size = 32 + nameBytes.length;
  const file = new Uint8Array(size);
  const view = new DataView(file.buffer);
  file[2] = 0x74;
  view.setUint16(3, 0x8000 | (options.encrypted ? 0x04 : 0), true);
  view.setUint16(5, size, true);
  view.setUint32(7, content.length, true);
  view.setUint32(11, content.length, true);
  file[24] = 29;
  file[25] = 0x30; // stored
  view.setUint16(26, nameBytes.length, true);
  file.set(nameBytes, 32);
  const end = Uint8Array.of(0, 0, 0x7b, 0, 0x40, 7, 0);
  const out = new Uint8Array(marker.length + main.length + file.length + content.length + end.length);
  let at = 0;
  for (const part of [marker, main, file, content, end]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
