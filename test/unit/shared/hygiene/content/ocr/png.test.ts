import { describe, expect, it } from "vitest";
import { readPngInk } from "../../../../../../shared/hygiene/content/ocr/png.ts";
import { OCR_MAX_PIXELS, OCR_MAX_PNG_BYTES, OCR_MAX_SCANLINE_BYTES } from "../../../../../../shared/limits.ts";
import { drawText, encodePng, type PngFormat, type Raster } from "../../../../../helpers/png.ts";

/** The ink the reader reports, back as a bitmap. */
function readInk(bytes: Uint8Array, width: number, height: number) {
  const ink = new Uint8Array(width * height);
  let rows = 0;
  const read = readPngInk(bytes, (y, runs, count) => {
    rows++;
    for (let i = 0; i < count; i += 2) ink.fill(1, y * width + runs[i]!, y * width + runs[i + 1]!);
    return true;
  });
  return { read, rows, ink };
}

/** A PNG with a header only: IHDR fields as given, then IEND. */
function headerOnly(width: number, height: number, bitDepth = 8, colorType = 0): Uint8Array {
  const raster: Raster = { width: 1, height: 1, ink: new Uint8Array(1) };
  const png = encodePng(raster, { format: "gray8" });
  const view = new DataView(png.buffer, png.byteOffset);
  view.setUint32(16, width);
  view.setUint32(20, height);
  png[24] = bitDepth;
  png[25] = colorType;
  return png;
}

const TEXT = drawText(["AB*1.", "K-Q X"], 2);
// Odd widths leave padding bits in the last byte of sub-byte rows.
const ODD = drawText(["XJS*C4J"], 1);

describe("readPngInk", () => {
  const formats: PngFormat[] = ["gray1", "gray2", "gray4", "gray8", "gray16", "gray-alpha8", "rgb8", "rgb16", "rgba8", "palette1", "palette4", "palette8"];
  it.each(formats)("reads every pixel of a %s image, through every row filter", (format) => {
    for (const raster of [TEXT, ODD]) {
      const got = readInk(encodePng(raster, { format, filter: "cycle" }), raster.width, raster.height);
      expect(got.read).toBe("done");
      expect(got.rows).toBe(raster.height);
      expect(got.ink).toEqual(raster.ink);
    }
  });

  it("reports each row as left-to-right runs of ink", () => {
    const raster: Raster = { width: 10, height: 1, ink: Uint8Array.from([1, 1, 0, 0, 1, 0, 1, 1, 1, 1]) };
    const rows: number[][] = [];
    readPngInk(encodePng(raster, { format: "gray1" }), (_y, runs, count) => rows.push([...runs.subarray(0, count)]) > 0);
    expect(rows).toEqual([[0, 2, 4, 5, 6, 10]]);
  });

  it("stops when the sink says so, without reading the rest", () => {
    let rows = 0;
    expect(readPngInk(encodePng(TEXT), () => ++rows < 3)).toBe("stopped");
    expect(rows).toBe(3);
  });

  it("refuses what it does not read, before inflating anything", () => {
    const none = () => {
      throw new Error("no row should be read");
    };
    expect(readPngInk(new TextEncoder().encode("GIF89a…"), none)).toBe("not png");
    expect(readPngInk(encodePng(TEXT, { interlaced: true }), none)).toBe("unsupported");
    expect(readPngInk(headerOnly(10, 10, 3, 0), none)).toBe("unsupported");
    expect(readPngInk(headerOnly(OCR_MAX_PIXELS / 1000 + 1, 1000), none)).toBe("too large");
    expect(readPngInk(headerOnly(20_000, 1), none)).toBe("too large");
    // Within the pixel limit, but 4 bytes a pixel is past the scanline budget.
    expect(readPngInk(headerOnly(4000, Math.ceil(OCR_MAX_SCANLINE_BYTES / 16_000) + 1, 8, 6), none)).toBe("too large");
    const padded = new Uint8Array(OCR_MAX_PNG_BYTES + 1);
    padded.set(encodePng(TEXT));
    expect(readPngInk(padded, none)).toBe("too large");
    expect(readPngInk(headerOnly(0, 10), none)).toBe("damaged");
  });

  it("reads a truncated image as far as it goes, and says it is damaged", () => {
    const png = encodePng(drawText(["XJS*C4JDBQADN1.NSBN3"], 3), { format: "rgb8" });
    let rows = 0;
    expect(readPngInk(png.subarray(0, Math.floor(png.length * 0.6)), () => ++rows > 0)).toBe("damaged");
    expect(rows).toBeLessThan(drawText(["X"], 3).height);
  });
});
