import { gzipSync, strToU8, zipSync, type Zippable } from "fflate";
import { describe, expect, it } from "vitest";
import { ArchiveWalker } from "../../../../../shared/hygiene/attachments/archive.ts";
import type { InspectedFile } from "../../../../../shared/hygiene/attachments/file.ts";
import { Budget, DEFAULT_INSPECTION_LIMITS, type InspectionLimits, InspectionLimitError } from "../../../../../shared/hygiene/attachments/budget.ts";
import { ISO_PROBE_BYTES } from "../../../../../shared/hygiene/attachments/magic.ts";
import { bytesSource } from "../../../../../shared/hygiene/attachments/source.ts";
import { MAX_ARCHIVE_DEPTH, MAX_ARCHIVE_ENTRIES } from "../../../../../shared/limits.ts";
import { bytes, markEncrypted, MSI_CLSID, noise, offsetsOf, ole2Of, tarOf, uuencode } from "./fixtures.ts";

function walk(name: string, content: Uint8Array, limits: Partial<InspectionLimits> = {}): { files: InspectedFile[]; budget: Budget; error: unknown } {
  const budget = new Budget({ ...DEFAULT_INSPECTION_LIMITS, ...limits });
  const walker = new ArchiveWalker(budget);
  let error: unknown = null;
  try {
    walker.visit({ path: [name], name, declaredType: null, depth: 0, source: bytesSource(content) });
  } catch (e) {
    error = e;
  }
  return { files: walker.files, budget, error };
}

const paths = (files: InspectedFile[]) => files.map((f) => f.path.join(" > "));

/** `levels` zips, each holding the next; the innermost holds a.txt. */
function nested(levels: number): Uint8Array {
  let inner = zipSync({ "a.txt": strToU8("a") });
  for (let i = 1; i < levels; i++) inner = zipSync({ [`level${i}.zip`]: inner });
  return inner;
}

describe("archive walk", () => {
  it("opens nested zips and lists each file before its members", () => {
    const inner = zipSync({ "eicar.com": strToU8("X"), "docs/": new Uint8Array(0) });
    const { files, error } = walk("invoice.zip", zipSync({ "inner.zip": inner, "readme.txt": strToU8("hello") }));
    expect(error).toBeNull();
    expect(paths(files)).toEqual(["invoice.zip", "invoice.zip > inner.zip", "invoice.zip > inner.zip > eicar.com", "invoice.zip > readme.txt"]);
    expect(files.map((f) => f.depth)).toEqual([0, 1, 2, 1]);
  });

  it("opens gzip (naming the member by its stored name, or the file's name less .gz) and tar", () => {
    const tar = tarOf({ "setup.exe": bytes("MZ") });
    expect(paths(walk("backup.tgz", gzipSync(tar)).files)).toEqual(["backup.tgz", "backup.tgz > backup.tar", "backup.tgz > backup.tar > setup.exe"]);
    expect(paths(walk("x.gz", gzipSync(strToU8("hi"), { filename: "payload.js" })).files)).toEqual(["x.gz", "x.gz > payload.js"]);
  });

  it("reads the true type of members, whatever they are called", () => {
    const { files } = walk("a.zip", zipSync({ "invoice.pdf": strToU8("MZ\x90\x00 this program cannot be run in DOS mode") }));
    expect(files[1]?.kind).toBe("pe");
  });

  it("finds a disc image inside an archive by reading past the head only when it starts like one", () => {
    const iso = new Uint8Array(64 * 1024);
    iso.set(bytes("CD001"), 0x8001);
    const { files, budget } = walk("a.zip", zipSync({ "invoice.pdf": iso }));
    expect(files[1]?.kind).toBe("iso");
    expect(budget.work.inflated).toBeGreaterThanOrEqual(ISO_PROBE_BYTES);
    const text = walk("b.zip", zipSync({ "notes.txt": noise(64 * 1024) }));
    expect(text.budget.work.inflated).toBeLessThan(ISO_PROBE_BYTES);
  });

  it.each<[string, Zippable, string]>([
    ["a Word document with a VBA project", { "[Content_Types].xml": strToU8("<Types/>"), "word/vbaProject.bin": strToU8("x") }, "word/vbaProject.bin"],
    [
      "an Excel workbook with an Excel 4.0 macro sheet",
      { "[Content_Types].xml": strToU8("<Types/>"), "xl/macrosheets/sheet1.xml": strToU8("<x/>") },
      "xl/macrosheets/sheet1.xml",
    ],
    [
      "an OpenDocument file with Basic macros",
      { mimetype: strToU8("application/vnd.oasis.opendocument.text"), "Basic/Standard/Module1.xml": strToU8("<x/>") },
      "Basic/Standard/Module1.xml",
    ],
  ])("notes the macros of %s", (_, entries, evidence) => {
    expect(walk("doc.docx", zipSync(entries)).files[0]?.facts.get("macros")).toBe(evidence);
  });

  it("notes macros in a legacy Office document and recognises an MSI package", () => {
    expect(walk("old.doc", ole2Of(["WordDocument", "Macros", "VBA"])).files[0]?.facts.get("macros")).toBe("macros");
    expect(walk("setup.dat", ole2Of(["x"], { rootClsid: MSI_CLSID })).files[0]?.kind).toBe("msi");
  });

  it("notes an encrypted zip, whose members cannot be read", () => {
    const { files } = walk("secret.zip", markEncrypted(zipSync({ "a.txt": strToU8("a") })));
    expect(files[0]?.facts.get("encrypted")).toBe("a.txt");
    expect(files[1]).toMatchObject({ encrypted: true, readable: false });
  });

  it("lists the member of a uuencoded block", () => {
    const { files } = walk("", bytes(uuencode("clam.exe", bytes("MZP\0\x02"))));
    expect(files[1]).toMatchObject({ name: "clam.exe", kind: "pe" });
  });

  it("notes members it cannot expand and archives it cannot read, without failing", () => {
    const odd = zipSync({ "a.bin": [strToU8("data"), { level: 0 }] }).slice();
    for (const at of offsetsOf(odd, "PK\x01\x02")) odd[at + 10] = 12; // bzip2
    expect(walk("odd.zip", odd).files[1]?.facts.get("opaque")).toMatch(/method 12/);
    const broken = zipSync({ "a.txt": strToU8("hello hello hello hello") }).slice();
    const data = offsetsOf(broken, "PK\x03\x04")[0]! + 30 + 5;
    broken.fill(0xff, data, data + 8);
    const { files, error } = walk("broken.zip", broken);
    expect(error).toBeNull();
    expect(files[1]?.facts.has("unreadable")).toBe(true);
  });

  describe("limits", () => {
    it("refuses a member with a bomb's compression ratio without expanding it", () => {
      const { error, budget } = walk("bomb.zip", zipSync({ "zeros.bin": new Uint8Array(4 * 1024 * 1024) }));
      expect(error).toBeInstanceOf(InspectionLimitError);
      expect((error as InspectionLimitError).rule).toMatch(/compression ratio \d+:1 over 100:1/);
      expect(budget.work.inflated).toBe(0);
    });

    it("refuses archives holding more files than MAX_ARCHIVE_ENTRIES, across nesting", () => {
      const half = Object.fromEntries(Array.from({ length: MAX_ARCHIVE_ENTRIES / 2 + 1 }, (_, i) => [`f${i}.txt`, new Uint8Array(0)]));
      const { error } = walk("many.zip", zipSync({ "a.zip": zipSync(half), "b.zip": zipSync(half) }));
      expect((error as InspectionLimitError).rule).toBe(`more than ${MAX_ARCHIVE_ENTRIES} files in archives`);
    });

    it("opens MAX_ARCHIVE_DEPTH nested archives and refuses one more", () => {
      expect(walk("ok.zip", nested(MAX_ARCHIVE_DEPTH)).error).toBeNull();
      const { error, files } = walk("deep.zip", nested(MAX_ARCHIVE_DEPTH + 1));
      expect((error as InspectionLimitError).rule).toBe(`nested deeper than ${MAX_ARCHIVE_DEPTH} containers`);
      expect(files).toHaveLength(MAX_ARCHIVE_DEPTH + 1);
    });

    it("refuses a nested archive that expands past its declared size, having expanded little", () => {
      const inner = zipSync({ "zeros.bin": new Uint8Array(8 * 1024 * 1024) });
      const outer = zipSync({ "inner.zip": inner }).slice();
      // Declare the inner zip a hundred bytes long: its real size is far larger.
      for (const at of offsetsOf(outer, "PK\x01\x02").slice(-1)) new DataView(outer.buffer).setUint32(at + 24, 100, true);
      const { error, budget } = walk("liar.zip", outer);
      expect((error as InspectionLimitError).rule).toBe("expands past the size its archive declares");
      expect(budget.work.inflated).toBeLessThan(1024 * 1024);
    });

    it("refuses archives that would need more than the decompression budget", () => {
      const { error } = walk("big.zip", zipSync({ "inner.zip": zipSync({ "data.bin": noise(200_000) }) }), { maxInflateBytes: 100_000 });
      expect((error as InspectionLimitError).rule).toMatch(/more than 100000 bytes decompressed/);
    });

    it("refuses archives whose members declare more than MAX_ARCHIVE_EXPANDED_BYTES in all", () => {
      const { error } = walk("huge.zip", zipSync({ "a.bin": noise(5000), "b.bin": noise(5000) }), { maxExpandedBytes: 8000 });
      expect((error as InspectionLimitError).rule).toBe("archives expand to more than 8000 bytes");
    });
  });
});
