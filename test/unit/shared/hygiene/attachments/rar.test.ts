import { describe, expect, it } from "vitest";
import { listRar } from "../../../../../shared/hygiene/attachments/rar.ts";
import { bytes, rar4 } from "./fixtures.ts";

/** A RAR 5 archive with one file header, optionally with a file encryption record. */
function rar5(name: string, content: Uint8Array, options: { encrypted?: boolean; stored?: boolean } = {}): Uint8Array {
  const nameBytes = bytes(name);
  const extra = options.encrypted ? [1, 1] : []; // one record: size 1, type 1 (file encryption)
  const compression = options.stored === false ? 0x80 * 3 : 0;
  const fields = [2, 0x02 | (extra.length > 0 ? 0x01 : 0), ...(extra.length > 0 ? [extra.length] : []), content.length, 0, content.length, 0];
  const compressionVint = compression < 0x80 ? [compression] : [(compression & 0x7f) | 0x80, compression >> 7];
  const header = [...fields, ...compressionVint, 0, nameBytes.length, ...nameBytes, ...extra];
  const block = [0, 0, 0, 0, header.length, ...header];
  const main = [0, 0, 0, 0, 3, 1, 0, 0];
  const end = [0, 0, 0, 0, 3, 5, 0, 0];
  return Uint8Array.from([...bytes("Rar!\x1a\x07\x01\x00"), ...main, ...block, ...content, ...end]);
}

describe("RAR listing", () => {
  it("lists a RAR 4 file with its size, and reads a stored member in place", () => {
    const archive = rar4("invoice.scr", bytes("payload"));
    const listing = listRar(archive, 100);
    expect(listing.entries).toHaveLength(1);
    const [entry] = listing.entries;
    expect(entry).toMatchObject({ name: "invoice.scr", size: 7, encrypted: false, stored: true });
    expect(new TextDecoder().decode(archive.subarray(entry!.dataOffset, entry!.dataOffset + entry!.compressedSize))).toBe("payload");
  });

  it("flags RAR 4 encrypted files and encrypted headers", () => {
    expect(listRar(rar4("a.txt", bytes("x"), { encrypted: true }), 100).entries[0]?.encrypted).toBe(true);
    const hidden = listRar(rar4("a.txt", bytes("x"), { headersEncrypted: true }), 100);
    expect(hidden).toMatchObject({ headersEncrypted: true, entries: [] });
  });

  it("lists a RAR 5 file and its encryption record", () => {
    expect(listRar(rar5("report.exe", bytes("MZ..")), 100).entries[0]).toMatchObject({ name: "report.exe", size: 4, stored: true, encrypted: false });
    expect(listRar(rar5("report.exe", bytes("MZ.."), { encrypted: true }), 100).entries[0]?.encrypted).toBe(true);
    expect(listRar(rar5("report.exe", bytes("MZ.."), { stored: false }), 100).entries[0]?.stored).toBe(false);
  });

  it("lists nothing from bytes that are not RAR", () => {
    expect(listRar(bytes("PK\x03\x04"), 100)).toEqual({ entries: [], headersEncrypted: false, scanned: 0 });
  });
});
