import { gzipSync, strToU8 } from "fflate";
import { describe, expect, it } from "vitest";
import { readGzip } from "../../../../../shared/hygiene/attachments/gzip.ts";
import { sevenZipEncrypted } from "../../../../../shared/hygiene/attachments/sevenzip.ts";
import { listTar } from "../../../../../shared/hygiene/attachments/tar.ts";
import { bytes, tarOf } from "./fixtures.ts";

describe("gzip header", () => {
  it("reads the stored name, the DEFLATE data and the declared size", () => {
    const gz = gzipSync(strToU8("hello world"), { filename: "greeting.txt" });
    const member = readGzip(gz);
    expect(member).toMatchObject({ name: "greeting.txt", size: 11 });
    expect(member!.data.length).toBeLessThan(gz.length);
  });

  it("has no name when the compressor stored none, and refuses what is not gzip", () => {
    expect(readGzip(gzipSync(strToU8("x")))?.name).toBeNull();
    expect(readGzip(bytes("plain text, long enough"))).toBeNull();
  });
});

describe("tar listing", () => {
  it("lists files with their sizes and data, following GNU long names", () => {
    const long = `${"deep/".repeat(25)}payload.exe`;
    const tar = tarOf({ "a.txt": bytes("alpha"), [long]: bytes("MZ") });
    const { entries } = listTar(tar, 100);
    expect(entries.map((e) => [e.name, e.size])).toEqual([
      ["a.txt", 5],
      [long, 2],
    ]);
    expect(new TextDecoder().decode(tar.subarray(entries[0]!.dataOffset, entries[0]!.dataOffset + 5))).toBe("alpha");
  });

  it("stops one entry past the limit", () => {
    const tar = tarOf(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}`, bytes("x")])));
    expect(listTar(tar, 5).entries).toHaveLength(6);
  });
});

describe("7z encryption", () => {
  /** A 7z signature header pointing at an end header holding `header`. */
  function sevenZip(header: number[]): Uint8Array {
    const out = new Uint8Array(32 + header.length);
    out.set([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]);
    new DataView(out.buffer).setUint32(20, header.length, true);
    out.set(header, 32);
    return out;
  }

  it("is encrypted when the end header lists the 7zAES coder", () => {
    expect(sevenZipEncrypted(sevenZip([0x17, 0x06, 0x01, 0x04, 0x06, 0xf1, 0x07, 0x01, 0x00])).encrypted).toBe(true);
    expect(sevenZipEncrypted(sevenZip([0x17, 0x06, 0x01, 0x03, 0x03, 0x01, 0x01, 0x00])).encrypted).toBe(false);
  });

  it("cannot tell for a truncated archive", () => {
    const truncated = sevenZip([0x01]).slice();
    new DataView(truncated.buffer).setUint32(12, 1000, true);
    expect(sevenZipEncrypted(truncated).encrypted).toBeNull();
  });
});
