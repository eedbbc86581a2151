import { describe, expect, it } from "vitest";
import { readOle2 } from "../../../../../shared/hygiene/attachments/ole2.ts";
import { bytes, MSI_CLSID, ole2Of } from "./fixtures.ts";

describe("OLE2 directory", () => {
  it("lists storage and stream names", () => {
    expect(readOle2(ole2Of(["WordDocument", "1Table", "\u0005SummaryInformation"]))?.names).toEqual([
      "root entry",
      "worddocument",
      "1table",
      "\u0005summaryinformation",
    ]);
  });

  it.each([
    ["Word (Macros storage)", ["WordDocument", "Macros", "VBA"], "macros"],
    ["Excel (_VBA_PROJECT_CUR)", ["Workbook", "_VBA_PROJECT_CUR", "VBA"], "_vba_project_cur"],
    ["a plain document", ["WordDocument", "1Table"], null],
  ])("finds macros in %s", (_, names, marker) => {
    expect(readOle2(ole2Of(names))?.macros).toBe(marker);
  });

  it("recognises a Windows Installer package by its root class id", () => {
    expect(readOle2(ole2Of(["\u4840\u3f3f"], { rootClsid: MSI_CLSID }))?.installer).toBe(true);
    expect(readOle2(ole2Of(["WordDocument"]))?.installer).toBe(false);
  });

  it("recognises a password-protected OOXML document", () => {
    expect(readOle2(ole2Of(["EncryptionInfo", "EncryptedPackage"]))?.encrypted).toBe(true);
  });

  it("follows a directory spread over several sectors", () => {
    const names = Array.from({ length: 10 }, (_, i) => `Stream${i}`).concat("Macros");
    expect(readOle2(ole2Of(names))?.macros).toBe("macros");
  });

  it("stops on a directory chain that loops, and says it is truncated", () => {
    const info = readOle2(ole2Of(["A", "B", "C", "D", "E"], { loop: true }));
    expect(info?.truncated).toBe(true);
    expect(info?.names).toHaveLength(6);
  });

  it("reads the directory, not the streams: a large file costs what a small one does", () => {
    const small = readOle2(ole2Of(["WordDocument"]));
    const large = readOle2(ole2Of(["WordDocument"], { padding: 20 * 1024 * 1024 }));
    expect(large?.scanned).toBe(small?.scanned);
  });

  it("refuses what is not OLE2", () => {
    expect(readOle2(bytes("PK\x03\x04".padEnd(600, "x")))).toBeNull();
  });
});
