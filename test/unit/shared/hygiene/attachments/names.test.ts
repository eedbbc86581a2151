import { describe, expect, it } from "vitest";
import { fileNames } from "../../../../../shared/hygiene/attachments/names.ts";

describe("attachment file names", () => {
  it.each([
    ["invoice.pdf.exe", "exe", "pdf"],
    ["Invoice.PDF.EXE", "exe", "pdf"],
    ["setup.exe.", "exe", null],
    ["setup.exe . . ", "exe", null],
    ["invoice.pdf        .exe", "exe", "pdf"],
    ["folder/sub/evil.scr", "scr", null],
    ["C:\\Users\\x\\evil.js", "js", null],
    ["06.12.2017.scr", "scr", "2017"],
    ["bad_ext.dotted_file_name.exe", "exe", "dotted_file_name"],
    ["ｅｖｉｌ．ｅｘｅ", "exe", null],
    ["README", null, null],
    ["archive.tar.gz", "gz", "tar"],
  ])("reads %j as extension %j after %j", (raw, extension, previous) => {
    const [name] = fileNames(raw);
    expect(name?.extension).toBe(extension);
    expect(name?.previous).toBe(previous);
  });

  it("also reads a name with a NUL in it as what comes before the NUL", () => {
    expect(fileNames("evil.exe\0.pdf").map((n) => n.extension)).toEqual(["pdf", "exe"]);
  });

  it("notices bidirectional controls that reverse how the extension is shown", () => {
    expect(fileNames("invoice\u202efdp.exe")[0]?.bidi).toBe(true);
    expect(fileNames("فاتورة.pdf")[0]?.bidi).toBe(false);
  });
});
