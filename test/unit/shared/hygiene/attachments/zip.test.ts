import { strToU8, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { listZip } from "../../../../../shared/hygiene/attachments/zip.ts";
import { markEncrypted, offsetsOf } from "./fixtures.ts";

const sample = zipSync({ "docs/readme.txt": [strToU8("hello ".repeat(100)), { level: 6 }], "raw.bin": [Uint8Array.of(1, 2, 3), { level: 0 }] });

describe("zip listing", () => {
  it("lists entries from the central directory with sizes, methods and data offsets", () => {
    const listing = listZip(sample, 100);
    expect(listing.complete).toBe(true);
    expect(listing.entries.map((e) => [e.name, e.method, e.size, e.encrypted, e.directory])).toEqual([
      ["docs/readme.txt", 8, 600, false, false],
      ["raw.bin", 0, 3, false, false],
    ]);
    const raw = listing.entries[1]!;
    expect([...sample.subarray(raw.dataOffset!, raw.dataOffset! + raw.compressedSize)]).toEqual([1, 2, 3]);
  });

  it("flags encrypted entries", () => {
    expect(listZip(markEncrypted(sample), 100).entries.every((e) => e.encrypted)).toBe(true);
  });

  it("finds the entries of a self-extracting zip behind an executable stub", () => {
    const stub = new Uint8Array(5000).fill(0x90);
    stub.set(strToU8("MZ"));
    const sfx = new Uint8Array(stub.length + sample.length);
    sfx.set(stub);
    sfx.set(sample, stub.length);
    const raw = listZip(sfx, 100).entries[1]!;
    expect([...sfx.subarray(raw.dataOffset!, raw.dataOffset! + raw.compressedSize)]).toEqual([1, 2, 3]);
  });

  it("falls back to the local headers of a zip whose central directory is missing", () => {
    const truncated = sample.subarray(0, offsetsOf(sample, "PK\x01\x02")[0]);
    const listing = listZip(truncated, 100);
    expect(listing.complete).toBe(false);
    expect(listing.entries.map((e) => e.name)).toEqual(["docs/readme.txt", "raw.bin"]);
  });

  it("reports the name in the local header when it differs from the central directory's", () => {
    const spoofed = zipSync({ "a.txt": strToU8("x") }).slice();
    const local = offsetsOf(spoofed, "PK\x03\x04")[0]!;
    spoofed.set(strToU8("a.exe"), local + 30);
    expect(listZip(spoofed, 100).entries[0]).toMatchObject({ name: "a.txt", localName: "a.exe" });
  });

  it("stops listing one entry past the limit, however many the archive holds", () => {
    const many = zipSync(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${i}.txt`, strToU8("x")])));
    expect(listZip(many, 10).entries).toHaveLength(11);
  });

  it("lists nothing from bytes that are not a zip", () => {
    expect(listZip(strToU8("not a zip at all"), 100).entries).toEqual([]);
  });
});
