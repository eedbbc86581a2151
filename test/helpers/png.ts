import { zlibSync } from "fflate";
import { concatBytes } from "../../shared/bytes.ts";

/**
 * A 5×7 pixel font for the GTUBE string's characters, plus K and O (in no position of it), to draw
 * test images without a font renderer. Each glyph is one connected blob, as in a real typeface.
 */
const FONT: Record<string, string> = {
  X: "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
  J: "..### ...#. ...#. ...#. ...#. #..#. .##..",
  S: ".###. #...# #.... .###. ....# #...# .###.",
  "*": "..... ..#.. #.#.# .###. #.#.# ..#.. .....",
  C: ".###. #...# #.... #.... #.... #...# .###.",
  "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
  D: "####. #...# #...# #...# #...# #...# ####.",
  B: "####. #...# #...# ####. #...# #...# ####.",
  Q: ".###. #...# #...# #...# #.#.# #..#. .##.#",
  A: ".###. #...# #...# ##### #...# #...# #...#",
  N: "#...# ##..# #.#.# #..## #...# #...# #...#",
  "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
  ".": "..... ..... ..... ..... ..... .##.. .##..",
  "3": "####. ....# ....# .###. ....# ....# ####.",
  "2": ".###. #...# ....# ...#. ..#.. .#... #####",
  I: ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
  E: "##### #.... #.... ####. #.... #.... #####",
  G: ".###. #...# #.... #.### #...# #...# .###.",
  T: "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
  U: "#...# #...# #...# #...# #...# #...# .###.",
  "-": "..... ..... ..... .###. ..... ..... .....",
  R: "####. #...# #...# ####. #.#.. #..#. #...#",
  M: "#...# ##.## #.#.# #.#.# #...# #...# #...#",
  L: "#.... #.... #.... #.... #.... #.... #####",
  K: "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
  O: ".###. #...# #...# #...# #...# #...# .###.",
};

/** A bitmap: 1 is ink. */
export interface Raster {
  width: number;
  height: number;
  ink: Uint8Array;
}

/** Draws lines of text in {@link FONT}, `scale` pixels a font pixel, with a margin; spaces advance. */
export function drawText(lines: string[], scale = 3): Raster {
  const advance = 6 * scale;
  const lineHeight = 11 * scale;
  const margin = 4 * scale;
  const width = margin * 2 + Math.max(...lines.map((l) => l.length)) * advance;
  const height = margin * 2 + lines.length * lineHeight;
  const ink = new Uint8Array(width * height);
  lines.forEach((line, row) => {
    [...line].forEach((char, col) => {
      if (char === " ") return;
      const rows = FONT[char]?.split(" ");
      if (rows === undefined) throw new Error(`no glyph for ${char}`);
      for (let y = 0; y < 7 * scale; y++)
        for (let x = 0; x < 5 * scale; x++)
          if (rows[Math.floor(y / scale)]![Math.floor(x / scale)] === "#") ink[(margin + row * lineHeight + y) * width + margin + col * advance + x] = 1;
    });
  });
  return { width, height, ink };
}

/** PNG pixel formats the reader supports, by name. */
export type PngFormat = "gray1" | "gray2" | "gray4" | "gray8" | "gray16" | "gray-alpha8" | "rgb8" | "rgb16" | "rgba8" | "palette1" | "palette4" | "palette8";

const FORMATS: Record<PngFormat, { colorType: number; bitDepth: number }> = {
  gray1: { colorType: 0, bitDepth: 1 },
  gray2: { colorType: 0, bitDepth: 2 },
  gray4: { colorType: 0, bitDepth: 4 },
  gray8: { colorType: 0, bitDepth: 8 },
  gray16: { colorType: 0, bitDepth: 16 },
  "gray-alpha8": { colorType: 4, bitDepth: 8 },
  rgb8: { colorType: 2, bitDepth: 8 },
  rgb16: { colorType: 2, bitDepth: 16 },
  rgba8: { colorType: 6, bitDepth: 8 },
  palette1: { colorType: 3, bitDepth: 1 },
  palette4: { colorType: 3, bitDepth: 4 },
  palette8: { colorType: 3, bitDepth: 8 },
};

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** The samples of one pixel, ink (dark) or paper, in a format; palette index 1 is ink. */
function samples(format: PngFormat, ink: boolean): number[] {
  const { colorType, bitDepth } = FORMATS[format];
  const max = (1 << Math.min(bitDepth, 8)) - 1;
  const grey = ink ? 0 : max;
  switch (colorType) {
    case 0:
      return bitDepth === 16 ? [grey, grey] : [grey];
    case 2:
      if (bitDepth === 16) return ink ? [0x20, 0, 0x10, 0, 0x30, 0] : [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
      return ink ? [0x20, 0x10, 0x30] : [0xff, 0xff, 0xff];
    case 3:
      return [ink ? 1 : 0];
    case 4:
      // Paper is transparent black: alpha, not colour, makes it paper.
      return ink ? [0, 255] : [0, 0];
    default:
      return ink ? [0x20, 0x20, 0x20, 255] : [0xff, 0xff, 0xff, 0];
  }
}

export interface PngOptions {
  format?: PngFormat;
  /** Filter type for every row, or "cycle" to use 0–4 in turn. */
  filter?: number | "cycle";
  /** Light ink on a dark page. */
  inverted?: boolean;
  interlaced?: boolean;
}

/** Encodes a raster as a PNG (ink dark on a light page unless inverted). */
export function encodePng(raster: Raster, options: PngOptions = {}): Uint8Array {
  const format = options.format ?? "gray8";
  const { colorType, bitDepth } = FORMATS[format];
  const channels = samples(format, true).length / (bitDepth === 16 ? 2 : 1);
  const bits = channels * bitDepth;
  const rowBytes = Math.ceil((raster.width * bits) / 8);
  const bpp = Math.max(1, bits >> 3);
  const raw = new Uint8Array(raster.height * (rowBytes + 1));
  let prev = new Uint8Array(rowBytes);
  for (let y = 0; y < raster.height; y++) {
    const row = new Uint8Array(rowBytes);
    for (let x = 0; x < raster.width; x++) {
      const ink = (raster.ink[y * raster.width + x] === 1) !== (options.inverted ?? false);
      const s = samples(format, ink);
      if (bitDepth < 8) {
        const bit = x * bitDepth;
        row[bit >> 3] = row[bit >> 3]! | (s[0]! << (8 - bitDepth - (bit & 7)));
      } else row.set(s, x * s.length);
    }
    const filter = options.filter === "cycle" ? y % 5 : (options.filter ?? 0);
    const out = raw.subarray(y * (rowBytes + 1), (y + 1) * (rowBytes + 1));
    out[0] = filter;
    for (let i = 0; i < rowBytes; i++) {
      const a = i >= bpp ? row[i - bpp]! : 0;
      const b = prev[i]!;
      const c = i >= bpp ? prev[i - bpp]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter]!;
      out[1 + i] = (row[i]! - predictor) & 0xff;
    }
    prev = row;
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, raster.width);
  view.setUint32(4, raster.height);
  header.set([bitDepth, colorType, 0, 0, options.interlaced ? 1 : 0], 8);
  const palette = colorType === 3 ? [chunk("PLTE", Uint8Array.from([255, 255, 255, 0, 0, 0]))] : [];
  return concatBytes([
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    ...palette,
    chunk("IDAT", zlibSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ]);
}
