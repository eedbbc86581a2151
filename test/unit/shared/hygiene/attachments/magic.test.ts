import { describe, expect, it } from "vitest";
import { ISO_PROBE_BYTES, mayBeDiscImage, sniff } from "../../../../../shared/hygiene/attachments/magic.ts";
import { bytes } from "./fixtures.ts";

function withBytes(length: number, at: number, content: Uint8Array | number[]): Uint8Array {
  const out = new Uint8Array(length);
  out.set(content, at);
  return out;
}

describe("true type by magic number", () => {
  it.each([
    ["pe", bytes("MZ\x90\x00")],
    ["elf", Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1)],
    ["macho", Uint8Array.of(0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1)],
    ["macho", Uint8Array.of(0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2)],
    ["script", bytes("#!/bin/sh\necho hi\n")],
    ["lnk", Uint8Array.of(0x4c, 0, 0, 0, 1, 0x14, 2, 0, 0, 0)],
    ["chm", bytes("ITSF\x03\x00\x00\x00")],
    ["ole2", Uint8Array.of(0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1)],
    ["pdf", bytes("%PDF-1.7\n")],
    ["pdf", bytes(`${" ".repeat(300)}%PDF-1.4\n`)],
    ["zip", bytes("PK\x03\x04\x14\x00")],
    ["zip", bytes("PK\x05\x06\x00\x00")],
    ["rar", bytes("Rar!\x1a\x07\x00\xcf")],
    ["rar", bytes("Rar!\x1a\x07\x01\x00")],
    ["7z", Uint8Array.of(0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4)],
    ["gzip", Uint8Array.of(0x1f, 0x8b, 0x08, 0)],
    ["xz", Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0)],
    ["bzip2", bytes("BZh91AY&SY")],
    ["cab", bytes("MSCF\0\0\0\0")],
    ["vhdx", bytes("vhdxfile")],
    ["vhd", bytes("conectix")],
    ["tar", withBytes(512, 257, bytes("ustar\x0000"))],
    ["iso", withBytes(ISO_PROBE_BYTES, 0x8001, bytes("CD001"))],
    ["iso", withBytes(ISO_PROBE_BYTES, 0x9001, bytes("BEA01"))],
  ])("recognises %s", (kind, head) => {
    expect(sniff(head)).toBe(kind);
  });

  it.each([
    ["plain text", bytes("Hello, world")],
    ["a Java class (0xCAFEBABE with a class-file version)", Uint8Array.of(0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52)],
    ["%PDF- past the first KiB", bytes(`${" ".repeat(2000)}%PDF-1.4`)],
    ["nothing", new Uint8Array(0)],
  ])("recognises nothing in %s", (_, head) => {
    expect(sniff(head)).toBeNull();
  });

  it("reads past the head only for what may be a disc image", () => {
    expect(mayBeDiscImage(new Uint8Array(4096), 1_000_000)).toBe(true);
    expect(mayBeDiscImage(withBytes(4096, 510, [0x55, 0xaa]), 1_000_000)).toBe(true);
    expect(mayBeDiscImage(bytes("MZ".padEnd(4096, "x")), 1_000_000)).toBe(false);
    expect(mayBeDiscImage(new Uint8Array(4096), 4096)).toBe(false);
  });
});
