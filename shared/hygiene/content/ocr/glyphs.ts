import { OCR_MAX_LINE_GLYPHS, OCR_MAX_LINE_ROWS, OCR_MAX_LINE_RUNS } from "../../../limits.ts";

/** Cells per side of a glyph's shape grid: enough to tell capitals, digits and punctuation apart. */
const GRID = 8;
/** A blob smaller than this share of the line height squared is a speck of noise, not a glyph ('.' is ~1 %). */
const SPECK = 0.002;

/**
 * One glyph (a connected blob of ink) of a text line, measured in line heights so the same
 * character compares equal at any size: its box against the line's baseline, and its shape as
 * the ink share of each cell of a {@link GRID}×{@link GRID} grid over the box.
 */
export interface Glyph {
  /** Left edge in pixels, for reading order. */
  x: number;
  width: number;
  height: number;
  /** Top and bottom edge relative to the line's baseline (negative is above). */
  top: number;
  bottom: number;
  /** The line height in pixels (the median blob's height): comparisons allow a pixel of jitter in it. */
  pixels: number;
  shape: Float32Array;
}

/** Receives each text line's glyphs, left to right; returns false to stop reading. */
export type LineSink = (glyphs: Glyph[]) => boolean;

/**
 * Cuts a stream of pixel rows (as ink runs) into text lines — bands of rows with ink between rows
 * without — and each line into glyphs: connected blobs (8-neighbourhood) found over the line's
 * runs, so kerned letters whose boxes overlap ("TA") stay apart. Holds one line's runs at a time.
 * A band taller than {@link OCR_MAX_LINE_ROWS}, with more than {@link OCR_MAX_LINE_RUNS} runs or
 * {@link OCR_MAX_LINE_GLYPHS} blobs is a picture, not text, and is skipped.
 *
 * @example
 * const lines = new LineReader((glyphs) => { seen += glyphs.length; return true; });
 * readPngInk(bytes, (y, runs, count) => lines.row(runs, count));
 * lines.end();
 */
export class LineReader {
  readonly #onLine: LineSink;
  /** The band's runs, start and end pairs, row after row. */
  #runs = new Int32Array(4096);
  #used = 0;
  /** Where each row of the band starts in #runs (one more entry than rows). */
  #rowStart: number[] = [0];
  #oversized = false;

  constructor(onLine: LineSink) {
    this.#onLine = onLine;
  }

  /** Takes the next row's ink runs; false when the sink asked to stop. */
  row(runs: Int32Array, count: number): boolean {
    if (count === 0) return this.end();
    if (this.#oversized) return true;
    if (this.#rowStart.length > OCR_MAX_LINE_ROWS || this.#used + count > OCR_MAX_LINE_RUNS * 2) {
      this.#oversized = true;
      return true;
    }
    if (this.#used + count > this.#runs.length) {
      const bigger = new Int32Array(Math.max(this.#runs.length * 2, this.#used + count));
      bigger.set(this.#runs.subarray(0, this.#used));
      this.#runs = bigger;
    }
    this.#runs.set(runs.subarray(0, count), this.#used);
    this.#used += count;
    this.#rowStart.push(this.#used);
    return true;
  }

  /** Ends the current band (a blank row or the end of the image); false when the sink asked to stop. */
  end(): boolean {
    const rows = this.#rowStart.length - 1;
    const oversized = this.#oversized;
    const glyphs = rows === 0 || oversized ? null : this.#glyphs(rows);
    this.#used = 0;
    this.#rowStart = [0];
    this.#oversized = false;
    return glyphs === null || glyphs.length === 0 ? true : this.#onLine(glyphs);
  }

  #glyphs(rows: number): Glyph[] | null {
    const runs = this.#runs;
    const rowStart = this.#rowStart;
    const n = this.#used >> 1;
    const parent = new Int32Array(n);
    for (let i = 0; i < n; i++) parent[i] = i;
    const find = (i: number): number => {
      while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
      return i;
    };
    // Runs of neighbouring rows that touch, diagonals included, belong to one blob.
    for (let r = 1; r < rows; r++) {
      let a = rowStart[r - 1]! >> 1;
      const aEnd = rowStart[r]! >> 1;
      let b = aEnd;
      const bEnd = rowStart[r + 1]! >> 1;
      while (a < aEnd && b < bEnd) {
        const a0 = runs[2 * a]!;
        const a1 = runs[2 * a + 1]!;
        const b0 = runs[2 * b]!;
        const b1 = runs[2 * b + 1]!;
        if (a0 <= b1 && b0 <= a1) {
          const ra = find(a);
          const rb = find(b);
          if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
        }
        if (a1 < b1) a++;
        else b++;
      }
    }
    // Boxes and areas per blob.
    const blobOf = new Int32Array(n).fill(-1);
    const boxes: number[] = []; // x0, x1, y0, y1, area per blob
    const rowOf = new Int32Array(n);
    for (let r = 0; r < rows; r++) for (let i = rowStart[r]! >> 1; i < rowStart[r + 1]! >> 1; i++) rowOf[i] = r;
    for (let i = 0; i < n; i++) {
      const root = find(i);
      let blob = blobOf[root]!;
      if (blob === -1) {
        blob = blobOf[root] = boxes.length / 5;
        if (blob >= OCR_MAX_LINE_GLYPHS) return null;
        boxes.push(Infinity, -Infinity, Infinity, -Infinity, 0);
      }
      blobOf[i] = blob;
      const x0 = runs[2 * i]!;
      const x1 = runs[2 * i + 1]!;
      const at = blob * 5;
      boxes[at] = Math.min(boxes[at]!, x0);
      boxes[at + 1] = Math.max(boxes[at + 1]!, x1);
      boxes[at + 2] = Math.min(boxes[at + 2]!, rowOf[i]!);
      boxes[at + 3] = Math.max(boxes[at + 3]!, rowOf[i]! + 1);
      boxes[at + 4] = boxes[at + 4]! + x1 - x0;
    }
    const count = boxes.length / 5;
    // The line's measure: the median blob height and bottom (capitals or x-height, and the baseline).
    const heights: number[] = [];
    const bottoms: number[] = [];
    for (let g = 0; g < count; g++) {
      heights.push(boxes[g * 5 + 3]! - boxes[g * 5 + 2]!);
      bottoms.push(boxes[g * 5 + 3]!);
    }
    const lineHeight = median(heights);
    const baseline = median(bottoms);
    const shapes = Array.from({ length: count }, () => new Float32Array(GRID * GRID));
    for (let i = 0; i < n; i++) addRun(shapes[blobOf[i]!]!, boxes, blobOf[i]!, runs[2 * i]!, runs[2 * i + 1]!, rowOf[i]!);
    const glyphs: Glyph[] = [];
    for (let g = 0; g < count; g++) {
      const [x0, x1, y0, y1, area] = boxes.slice(g * 5, g * 5 + 5) as [number, number, number, number, number];
      if (area < SPECK * lineHeight * lineHeight) continue;
      const shape = shapes[g]!;
      const cell = ((x1 - x0) * (y1 - y0)) / (GRID * GRID);
      for (let c = 0; c < shape.length; c++) shape[c] = shape[c]! / cell;
      glyphs.push({
        x: x0,
        width: (x1 - x0) / lineHeight,
        height: (y1 - y0) / lineHeight,
        top: (y0 - baseline) / lineHeight,
        bottom: (y1 - baseline) / lineHeight,
        pixels: lineHeight,
        shape,
      });
    }
    return glyphs.sort((a, b) => a.x - b.x);
  }
}

function median(values: number[]): number {
  const sorted = values.sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** Adds one run's ink to its blob's grid, split exactly over the cells it crosses. */
function addRun(shape: Float32Array, boxes: number[], blob: number, x0: number, x1: number, row: number): void {
  const at = blob * 5;
  const bx = boxes[at]!;
  const w = boxes[at + 1]! - bx;
  const by = boxes[at + 2]!;
  const h = boxes[at + 3]! - by;
  const cw = w / GRID;
  const ch = h / GRID;
  const top = row - by;
  for (let gy = Math.floor(top / ch); gy < GRID && gy * ch < top + 1; gy++) {
    const dy = Math.min(top + 1, (gy + 1) * ch) - Math.max(top, gy * ch);
    if (dy <= 0) continue;
    for (let gx = Math.floor((x0 - bx) / cw); gx < GRID && bx + gx * cw < x1; gx++) {
      const dx = Math.min(x1, bx + (gx + 1) * cw) - Math.max(x0, bx + gx * cw);
      if (dx > 0) shape[gy * GRID + gx] = shape[gy * GRID + gx]! + dx * dy;
    }
  }
}
