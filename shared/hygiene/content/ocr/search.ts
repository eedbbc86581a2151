import { OCR_MAX_COMPARISONS, OCR_MAX_GLYPHS } from "../../../limits.ts";
import { type Glyph, LineReader } from "./glyphs.ts";
import { type InkReadResult, readPngInk } from "./png.ts";

/** Largest distance between a repeated character's first glyph and a later one: identical characters look alike. */
const SAME_MAX = 0.35;
/**
 * Lines whose glyphs are fewer pixels tall than this are not read: thresholding anti-aliased
 * edges leaves too few reliable pixels, and most glyphs would look alike to the comparison.
 */
const MIN_LINE_PIXELS = 8;

/**
 * A string's identity pattern: for each position, the first position holding the same character
 * (GTUBE's "XJS*C4J…" → 0, 1, 2, 3, 4, 5, 1, …). Rendered in any font, the same characters are
 * the same glyphs and different characters different ones, so a run of glyphs with the pattern
 * of a long string with many repeats is that string — without knowing what any glyph looks like.
 *
 * @example
 * identityPattern("ABCAB") // [0, 1, 2, 0, 1]
 */
export function identityPattern(text: string): number[] {
  const chars = [...text];
  return chars.map((c) => chars.indexOf(c));
}

/** What the search of one image concluded, and why it stopped. */
export interface ImageSearchResult {
  found: boolean;
  /** How the image was read: "done", "stopped" (found, or a limit), or why it was not. */
  read: InkReadResult;
  lines: number;
  glyphs: number;
  /** Glyph comparisons made. */
  comparisons: number;
}

/** A difference in pixels, less the pixel that thresholding an anti-aliased edge can add or take, in line heights. */
const beyondPixel = (d: number, pixels: number): number => Math.max(0, Math.abs(d) * pixels - 1) / pixels;

/**
 * How unlike two glyphs are: the mean difference of their shape grids plus the differences of
 * their boxes (size and place against the baseline, in line heights, past a pixel of jitter).
 * 0 for two prints of one character; ~0.1 for close pairs like C and G. Past `limit` it stops
 * adding up and returns some distance above it.
 */
export function glyphDistance(a: Glyph, b: Glyph, limit = Infinity): number {
  const px = Math.min(a.pixels, b.pixels);
  let d = beyondPixel(a.width - b.width, px) + beyondPixel(a.height - b.height, px) + beyondPixel(a.top - b.top, px) + beyondPixel(a.bottom - b.bottom, px);
  const cells = a.shape.length;
  for (let i = 0; i < cells && d <= limit; i++) d += Math.abs(a.shape[i]! - b.shape[i]!) / cells;
  return d;
}

/**
 * Tests runs of glyphs against a string's {@link identityPattern}, counting the glyph comparisons
 * it makes (the search's budget is {@link OCR_MAX_COMPARISONS}).
 *
 * @example
 * new PatternMatcher(GTUBE).matchesAt(glyphs, 0) // true when glyphs[0…68) read as GTUBE
 */
export class PatternMatcher {
  readonly pattern: readonly number[];
  /** For each position, the later positions holding the same character. */
  readonly #mates: number[][];
  comparisons = 0;

  constructor(text: string) {
    this.pattern = identityPattern(text);
    this.#mates = this.pattern.map((p, i) => this.pattern.flatMap((q, j) => (q === p && j > i ? [j] : [])));
  }

  #distance(a: Glyph, b: Glyph, limit = Infinity): number {
    this.comparisons++;
    return glyphDistance(a, b, limit);
  }

  /**
   * Whether `glyphs[at…at+pattern.length)` reads as the pattern: every repeat of a character looks
   * like its first glyph (a quick test that rejects ordinary text within a glyph or two); every
   * glyph of a repeated character is nearer to another glyph of its character than to any glyph
   * of another; and no glyph is as near to a character's glyphs as they are to each other (so a
   * glyph that should be unique is not another character's). Sixty-odd glyphs clustering exactly
   * as the pattern does is not something ordinary text, a row of one symbol, or a picture does.
   */
  matchesAt(glyphs: readonly Glyph[], at: number): boolean {
    const p = this.pattern;
    const n = p.length;
    for (let i = 0; i < n; i++) if (p[i] !== i && this.#distance(glyphs[at + i]!, glyphs[at + p[i]!]!, SAME_MAX) > SAME_MAX) return false;
    // Each character's spread (by its first position): the largest distance between two of its
    // glyphs; and each glyph's distance to its nearest mate (-1 for a character that occurs once).
    const spread = new Float64Array(n);
    const mate = new Float64Array(n).fill(-1);
    for (let i = 0; i < n; i++)
      for (const j of this.#mates[i]!) {
        const d = this.#distance(glyphs[at + i]!, glyphs[at + j]!);
        spread[p[i]!] = Math.max(spread[p[i]!]!, d);
        mate[i] = mate[i]! < 0 ? d : Math.min(mate[i]!, d);
        mate[j] = mate[j]! < 0 ? d : Math.min(mate[j]!, d);
      }
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++) {
        if (p[i] === p[j]) continue;
        const near = Math.max(mate[i]!, mate[j]!, spread[p[i]!]!, spread[p[j]!]!);
        if (this.#distance(glyphs[at + i]!, glyphs[at + j]!, near) <= near) return false;
      }
    return true;
  }
}

/**
 * Whether a PNG image shows `text` (in any font and size): lines and glyphs are found as in
 * {@link LineReader}, and every run of as many glyphs as `text` has characters, read in order
 * (across line ends, for a wrapped string), is tested against the text's
 * {@link identityPattern} by a {@link PatternMatcher}. Only for long strings with many repeated
 * characters, like GTUBE (68 characters, 24 distinct): a short or varied string's pattern is
 * common. Stops at the first match, after {@link OCR_MAX_GLYPHS} glyphs or
 * {@link OCR_MAX_COMPARISONS} glyph comparisons; images the reader refuses are not found.
 *
 * @example
 * searchImage(pngBytes, GTUBE).found // true for sa-gtube_png.eml's picture
 */
export function searchImage(bytes: Uint8Array, text: string): ImageSearchResult {
  const result: ImageSearchResult = { found: false, read: "done", lines: 0, glyphs: 0, comparisons: 0 };
  const matcher = new PatternMatcher(text);
  const n = matcher.pattern.length;
  // The glyphs read so far, kept back to one string's length across lines (a wrapped string).
  let sequence: Glyph[] = [];
  const lines = new LineReader((glyphs) => {
    result.lines++;
    result.glyphs += glyphs.length;
    if (glyphs[0]!.pixels < MIN_LINE_PIXELS) {
      sequence = [];
      return result.glyphs < OCR_MAX_GLYPHS;
    }
    const from = Math.max(0, sequence.length - n + 1);
    sequence = sequence.concat(glyphs);
    for (let at = from; at + n <= sequence.length && !result.found && matcher.comparisons < OCR_MAX_COMPARISONS; at++)
      result.found = matcher.matchesAt(sequence, at);
    sequence = sequence.slice(-(n - 1));
    return !result.found && result.glyphs < OCR_MAX_GLYPHS && matcher.comparisons < OCR_MAX_COMPARISONS;
  });
  result.read = readPngInk(bytes, (_y, runs, count) => lines.row(runs, count));
  if (result.read === "done") lines.end();
  result.comparisons = matcher.comparisons;
  return result;
}
