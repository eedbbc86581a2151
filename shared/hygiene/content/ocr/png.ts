import { Unzlib } from "fflate";
import { OCR_MAX_BYTES_PER_PIXEL, OCR_MAX_PIXELS, OCR_MAX_PNG_BYTES, OCR_MAX_SCANLINE_BYTES, OCR_MAX_WIDTH } from "../../../limits.ts";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Compressed bytes handed to the inflater at a time: deflate expands at most ~1032×, so one push yields at most ~4 MiB. */
const PUSH_BYTES = 4096;
/** Luminance (0–255) below which a pixel is ink: dark text on a light page. */
const INK_BELOW = 128;
/** Alpha (0–255) below which a pixel is page, whatever its colour: a transparent background is read as paper. */
const OPAQUE_FROM = 128;
/**
 * Rows read before judging the share of ink, and the share past which the image is no page of
 * text (a photograph, a dark background): print covers a tenth or so of a page.
 */
const INK_JUDGED_AFTER_ROWS = 64;
const MAX_INK_SHARE = 0.5;
/** Bytes of a PNG allowed besides its pixels (chunk headers, palette, metadata) before bytes per pixel are judged: small images are mostly these. */
const PNG_OVERHEAD_BYTES = 4096;

/** The PNG header fields the reader uses. */
export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

/**
 * Receives each row of the image as runs of ink: `runs[0..count)` holds start, end (exclusive)
 * pairs, left to right, valid only during the call. Returns false to stop reading.
 */
export type InkRowSink = (y: number, runs: Int32Array, count: number) => boolean;

/** Why an image was not (fully) read, or "done". */
export type InkReadResult = "done" | "stopped" | "not png" | "unsupported" | "too large" | "not a page" | "damaged";

/** Thrown out of the inflater's callback to end inflation early; never escapes this module. */
class Stop extends Error {}

/** Whether the bytes start with the PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

const u32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const chunkType = (b: Uint8Array, at: number): string => String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);

/** Samples per pixel of each PNG colour type (0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

/**
 * Reads a PNG's rows one at a time and reports each as runs of ink (dark pixels on a light or
 * transparent page), holding only two scanlines: the image itself is never in memory. Grey, RGB,
 * palette, with or without alpha, at every bit depth; not interlaced images (refused as
 * "unsupported"), nor ones over {@link OCR_MAX_PNG_BYTES}, {@link OCR_MAX_WIDTH},
 * {@link OCR_MAX_PIXELS} or {@link OCR_MAX_SCANLINE_BYTES} ("too large"). Images that are no
 * page of text are given up as "not a page": compressed past {@link OCR_MAX_BYTES_PER_PIXEL}
 * (photographs and noise compress poorly, print on paper very well) before anything is
 * inflated, or more than half ink once 64 rows are read. Chunk CRCs are not checked: a damaged image only reads as
 * other pixels.
 *
 * @example
 * readPngInk(bytes, (y, runs, count) => { inkRows += count > 0 ? 1 : 0; return true; }) // "done"
 */
export function readPngInk(bytes: Uint8Array, onRow: InkRowSink): InkReadResult {
  if (!isPng(bytes)) return "not png";
  if (bytes.length > OCR_MAX_PNG_BYTES) return "too large";
  if (bytes.length < 33 || chunkType(bytes, 12) !== "IHDR") return "damaged";
  const header: PngHeader = {
    width: u32(bytes, 16),
    height: u32(bytes, 20),
    bitDepth: bytes[24]!,
    colorType: bytes[25]!,
    interlaced: bytes[28] !== 0,
  };
  if (!DEPTHS[header.colorType]?.includes(header.bitDepth) || header.interlaced) return "unsupported";
  if (header.width === 0 || header.height === 0) return "damaged";
  if (header.width > OCR_MAX_WIDTH || header.width * header.height > OCR_MAX_PIXELS) return "too large";
  const rowBytes = Math.ceil((header.width * CHANNELS[header.colorType]! * header.bitDepth) / 8);
  if ((rowBytes + 1) * header.height > OCR_MAX_SCANLINE_BYTES) return "too large";
  if (bytes.length > PNG_OVERHEAD_BYTES + header.width * header.height * OCR_MAX_BYTES_PER_PIXEL) return "not a page";

  let palette: Uint8Array | null = null;
  let paletteAlpha: Uint8Array | null = null;
  let rows: RowDecoder | null = null;
  let ink = 0;
  let inked = false;
  const judge: InkRowSink = (y, runs, count) => {
    for (let i = 0; i < count; i += 2) ink += runs[i + 1]! - runs[i]!;
    if (y + 1 >= INK_JUDGED_AFTER_ROWS && ink > (y + 1) * header.width * MAX_INK_SHARE) {
      inked = true;
      return false;
    }
    return onRow(y, runs, count);
  };
  const inflater = new Unzlib((chunk) => {
    if (!rows!.push(chunk)) throw new Stop();
  });
  let at = 8;
  try {
    while (at + 8 <= bytes.length) {
      const length = u32(bytes, at);
      const type = chunkType(bytes, at + 4);
      const data = bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + length));
      at += 12 + length;
      if (type === "PLTE") palette = data;
      else if (type === "tRNS") paletteAlpha = data;
      else if (type === "IDAT") {
        rows ??= new RowDecoder(header, inkTable(header, palette, paletteAlpha), judge);
        for (let i = 0; i < data.length; i += PUSH_BYTES) inflater.push(data.subarray(i, i + PUSH_BYTES));
      } else if (type === "IEND") break;
    }
  } catch (err) {
    if (err instanceof Stop) return inked ? "not a page" : rows!.done ? "done" : "stopped";
    // fflate throws on a corrupt stream: what was read stands, like a truncated file.
    return "damaged";
  }
  if (rows === null) return "damaged";
  return rows.done ? "done" : "damaged";
}

/**
 * Ink of each sample value for grey and palette images (index → 1 ink, 0 page), or null for
 * direct colour, which is computed per pixel.
 */
function inkTable(header: PngHeader, palette: Uint8Array | null, alpha: Uint8Array | null): Uint8Array | null {
  if (header.colorType === 3) {
    const table = new Uint8Array(256);
    for (let i = 0; palette !== null && i * 3 + 2 < palette.length; i++) {
      const opaque = alpha === null || i >= alpha.length || alpha[i]! >= OPAQUE_FROM;
      table[i] = opaque && luminance(palette[i * 3]!, palette[i * 3 + 1]!, palette[i * 3 + 2]!) < INK_BELOW ? 1 : 0;
    }
    return table;
  }
  if (header.colorType === 0 && header.bitDepth < 8) {
    const max = (1 << header.bitDepth) - 1;
    const table = new Uint8Array(max + 1);
    for (let v = 0; v <= max; v++) table[v] = (v * 255) / max < INK_BELOW ? 1 : 0;
    return table;
  }
  return null;
}

const luminance = (r: number, g: number, b: number): number => (r * 299 + g * 587 + b * 114) / 1000;

/** Assembles inflated bytes into scanlines, undoes the PNG filters and hands each row's ink runs on. */
class RowDecoder {
  readonly #header: PngHeader;
  readonly #onRow: InkRowSink;
  /** Bytes per complete pixel (at least 1), for the filters. */
  readonly #bpp: number;
  readonly #rowBytes: number;
  #line: Uint8Array;
  #prev: Uint8Array;
  #filled = 0;
  #y = 0;
  readonly #runs: Int32Array;
  /** For sub-byte depths: the ink of each pixel of a byte, as bits (first pixel highest). */
  readonly #byteInk: Uint8Array | null;
  /** For 8-bit grey and palette rows: ink per sample value. */
  readonly #sampleInk: Uint8Array | null;
  /** Ink per pixel of the current row, for direct-colour rows. */
  readonly #ink: Uint8Array;
  done = false;

  constructor(header: PngHeader, table: Uint8Array | null, onRow: InkRowSink) {
    this.#header = header;
    this.#onRow = onRow;
    const bits = CHANNELS[header.colorType]! * header.bitDepth;
    this.#bpp = Math.max(1, bits >> 3);
    this.#rowBytes = Math.ceil((header.width * bits) / 8);
    this.#line = new Uint8Array(this.#rowBytes + 1);
    this.#prev = new Uint8Array(this.#rowBytes + 1);
    this.#runs = new Int32Array(header.width + 2);
    this.#ink = new Uint8Array(header.bitDepth < 8 ? 0 : header.width);
    this.#sampleInk = header.bitDepth === 8 ? table : null;
    this.#byteInk = null;
    if (header.bitDepth < 8 && table !== null) {
      const perByte = 8 / header.bitDepth;
      const mask = (1 << header.bitDepth) - 1;
      this.#byteInk = new Uint8Array(256);
      for (let b = 0; b < 256; b++) {
        let m = 0;
        for (let k = 0; k < perByte; k++) m = (m << 1) | table[(b >> (8 - header.bitDepth * (k + 1))) & mask]!;
        this.#byteInk[b] = m;
      }
    }
  }

  /** Takes inflated bytes; false once every row is read or the sink asked to stop. */
  push(chunk: Uint8Array): boolean {
    let i = 0;
    while (i < chunk.length) {
      const take = Math.min(chunk.length - i, this.#line.length - this.#filled);
      this.#line.set(chunk.subarray(i, i + take), this.#filled);
      this.#filled += take;
      i += take;
      if (this.#filled < this.#line.length) break;
      this.#unfilter();
      const count = this.#inkRuns();
      const go = this.#onRow(this.#y, this.#runs, count);
      [this.#prev, this.#line] = [this.#line, this.#prev];
      this.#filled = 0;
      this.#y++;
      if (this.#y === this.#header.height) this.done = true;
      if (this.done || !go) return false;
    }
    return true;
  }

  /** Undoes the row's filter in place (byte 0 is the filter type; the data starts at 1). */
  #unfilter(): void {
    const line = this.#line;
    const prev = this.#prev;
    const bpp = this.#bpp;
    const n = line.length;
    switch (line[0]) {
      case 1:
        for (let i = 1 + bpp; i < n; i++) line[i] = (line[i]! + line[i - bpp]!) & 0xff;
        break;
      case 2:
        for (let i = 1; i < n; i++) line[i] = (line[i]! + prev[i]!) & 0xff;
        break;
      case 3:
        for (let i = 1; i < n; i++) line[i] = (line[i]! + (((i > bpp ? line[i - bpp]! : 0) + prev[i]!) >> 1)) & 0xff;
        break;
      case 4:
        for (let i = 1; i < n; i++) {
          const a = i > bpp ? line[i - bpp]! : 0;
          const b = prev[i]!;
          const c = i > bpp ? prev[i - bpp]! : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          line[i] = (line[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
        }
        break;
      default:
      // 0 (none); an unknown type is read as none: a damaged image only reads as other pixels.
    }
  }

  /** The current row's ink as runs in #runs; returns how many numbers were written (2 per run). */
  #inkRuns(): number {
    if (this.#byteInk !== null) return this.#packedRuns(this.#byteInk);
    const { width, colorType, bitDepth } = this.#header;
    const line = this.#line;
    const ink = this.#ink;
    const step = bitDepth === 16 ? 2 : 1;
    const stride = CHANNELS[colorType]! * step;
    const table = this.#sampleInk;
    // One loop per colour type: this runs for every pixel of the image.
    switch (colorType) {
      case 0:
        for (let x = 0, i = 1; x < width; x++, i += stride) ink[x] = line[i]! < INK_BELOW ? 1 : 0;
        break;
      case 3:
        for (let x = 0, i = 1; x < width; x++, i += stride) ink[x] = table![line[i]!]!;
        break;
      case 4:
        for (let x = 0, i = 1; x < width; x++, i += stride) ink[x] = line[i + step]! >= OPAQUE_FROM && line[i]! < INK_BELOW ? 1 : 0;
        break;
      default: {
        // Luminance below INK_BELOW, in integers: 299 r + 587 g + 114 b < 1000 × INK_BELOW.
        const alpha = colorType === 6 ? 3 * step : -1;
        for (let x = 0, i = 1; x < width; x++, i += stride)
          ink[x] =
            (alpha < 0 || line[i + alpha]! >= OPAQUE_FROM) && line[i]! * 299 + line[i + step]! * 587 + line[i + 2 * step]! * 114 < INK_BELOW * 1000 ? 1 : 0;
      }
    }
    const runs = this.#runs;
    let count = 0;
    let inRun = 0;
    for (let x = 0; x < width; x++) {
      if (ink[x] !== inRun) {
        runs[count++] = x;
        inRun ^= 1;
      }
    }
    if (inRun === 1) runs[count++] = width;
    return count;
  }

  /** Runs of a 1, 2 or 4-bit row, a byte at a time: a byte of page (the usual case) costs one look-up. */
  #packedRuns(byteInk: Uint8Array): number {
    const { width, bitDepth } = this.#header;
    const perByte = 8 / bitDepth;
    const full = (1 << perByte) - 1;
    const line = this.#line;
    const runs = this.#runs;
    let count = 0;
    let inRun = false;
    let x = 0;
    for (let i = 1; i < line.length; i++, x += perByte) {
      let m = byteInk[line[i]!]!;
      // Padding bits after the last pixel are not pixels.
      if (x + perByte > width) m &= full & ~((1 << (x + perByte - width)) - 1);
      if (m === 0) {
        if (inRun) {
          runs[count++] = x;
          inRun = false;
        }
      } else if (m === full) {
        if (!inRun) {
          runs[count++] = x;
          inRun = true;
        }
      } else {
        for (let k = 0; k < perByte; k++) {
          const ink = ((m >> (perByte - 1 - k)) & 1) === 1;
          if (ink !== inRun) {
            runs[count++] = x + k;
            inRun = ink;
          }
        }
      }
    }
    if (inRun) runs[count++] = width;
    return count;
  }
}
