import { describe, expect, it } from "vitest";
import { pdfMarkers } from "../../../../../shared/hygiene/attachments/pdf.ts";
import { PDF_SCAN_BYTES } from "../../../../../shared/limits.ts";
import { bytes } from "./fixtures.ts";

function pdf(body: string, fill = 0): Uint8Array {
  return bytes(`%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n${" ".repeat(fill)}${body}\ntrailer << /Root 1 0 R >>\n%%EOF\n`);
}

describe("PDF markers", () => {
  it.each([
    ["/Encrypt", "trailer << /Encrypt 5 0 R >>", "encrypted"],
    ["/JavaScript", "<< /S /JavaScript /JS 7 0 R >>", "javascript"],
    ["/JS", "<< /JS (app.alert(1)) >>", "javascript"],
    ["/OpenAction", "<< /OpenAction 9 0 R >>", "autoAction"],
    ["/AA", "<< /AA << /O 9 0 R >> >>", "autoAction"],
    ["/Launch", "<< /S /Launch /F (cmd.exe) >>", "launch"],
    ["a #xx-escaped name", "<< /S /J#61vaScr#69pt >>", "javascript"],
  ])("finds %s", (_, body, key) => {
    expect(pdfMarkers(pdf(body), pdf(body))).toMatchObject({ [key]: true });
  });

  it("does not take longer names for the markers", () => {
    expect(pdfMarkers(pdf("<< /JSON 1 /Encrypted 2 /AAx 3 >>"), null)).toMatchObject({ encrypted: false, javascript: false, autoAction: false });
  });

  it("looks at the ends of the file only, so its size does not change the cost", () => {
    const middle = pdf("<< /JavaScript 7 0 R >>" + " ".repeat(3 * PDF_SCAN_BYTES), 3 * PDF_SCAN_BYTES);
    const found = pdfMarkers(middle, middle);
    expect(found.javascript).toBe(false);
    expect(found.scanned).toBe(2 * PDF_SCAN_BYTES);
  });

  it("finds a marker in the trailer when it is given the file's end", () => {
    const big = pdf("trailer << /Encrypt 5 0 R >>", 3 * PDF_SCAN_BYTES);
    expect(pdfMarkers(big, null).encrypted).toBe(false);
    expect(pdfMarkers(big, big).encrypted).toBe(true);
  });
});
