import { GTUBE_PDF_MAX_INFLATED_BYTES, GTUBE_PDF_MAX_STREAMS } from "../../limits.ts";
import { InflateBudgetError, inflateBounded } from "./inflate.ts";
import { type CMap, hexBytes, parseCMap } from "./pdf-cmap.ts";

/**
 * A small, bounded PDF text extractor — enough to find a test string typed into a word
 * processor and saved as PDF, not a renderer. It reads the objects (plain and inside object
 * streams), inflates FlateDecode streams within {@link GTUBE_PDF_MAX_INFLATED_BYTES}, maps glyph
 * codes to text through each font's ToUnicode CMap, and reads the strings shown by the text
 * operators (Tj, TJ, ', "). Images and embedded font programs are never inflated. Every search
 * moves forward and every pattern is bounded, so a crafted file costs at most a few passes over
 * its bytes.
 */

/** Objects read from one PDF (plain and from object streams); real documents have a few thousand. */
const MAX_OBJECTS = 100_000;
/** Longest dictionary read before a stream; stream dictionaries are a few hundred bytes. */
const MAX_STREAM_DICT_CHARS = 4096;
/** Longest plain object read; font and resource dictionaries are well under it. */
const MAX_OBJECT_CHARS = 64 * 1024;
/** Text extracted from one PDF; GTUBE is looked for near the start of a document anyway. */
const MAX_TEXT_CHARS = 1024 * 1024;
/** Bytes kept of one string operand; longer ones are read past, not kept. */
const MAX_STRING_BYTES = 64 * 1024;

/** Bytes as a string of one character per byte, so offsets in the string are offsets in the file. */
function binaryString(bytes: Uint8Array | number[]): string {
  const parts: string[] = [];
  // apply() over small chunks: an order of magnitude faster than spreading large ones.
  for (let i = 0; i < bytes.length; i += 4096) parts.push(String.fromCharCode.apply(null, bytes.slice(i, i + 4096) as number[]));
  return parts.join("");
}

interface PdfObject {
  dict: string;
  /** Decoded stream content (binary string), or null when the object has none or it was not decoded. */
  content: string | null;
}

/** What precedes an "obj" keyword that opens object number $1 ("12 0 obj"). */
const OBJECT_HEAD = /(\d{1,10})\s{1,16}\d{1,5}\s{1,16}$/;
const SKIPPED_STREAM = /\/Subtype\s*\/(?:Image|Type1C|CIDFontType0C|OpenType)|\/Length[123]\b/;

class Budget {
  inflated = 0;
  streams = 0;
  exhausted = false;
}

function decodeStream(dict: string, raw: Uint8Array, budget: Budget): string | null {
  if (budget.exhausted || budget.streams >= GTUBE_PDF_MAX_STREAMS || SKIPPED_STREAM.test(dict)) return null;
  budget.streams++;
  const filters = /\/Filter\s*(\[[^\]]{0,256}\]|\/\w{1,32})/.exec(dict)?.[1]?.match(/\/\w+/g) ?? [];
  if (filters.length === 0) return binaryString(raw);
  if (filters.length !== 1 || (filters[0] !== "/FlateDecode" && filters[0] !== "/Fl")) return null;
  try {
    const out = inflateBounded(raw, GTUBE_PDF_MAX_INFLATED_BYTES - budget.inflated);
    budget.inflated += out.length;
    return binaryString(out);
  } catch (err) {
    if (!(err instanceof InflateBudgetError)) throw err;
    // The budget is spent: read no further streams, keep what was read.
    budget.exhausted = true;
    return null;
  }
}

/** Every object by number; stream objects carry their decoded content. */
function readObjects(pdf: string, bytes: Uint8Array, budget: Budget): Map<number, PdfObject> {
  const objects = new Map<number, PdfObject>();
  // "obj" keywords are found with indexOf and only the few characters before each are matched,
  // so a run of digits costs one pass rather than a regular expression restarting at every digit.
  for (let at = pdf.indexOf("obj"); at !== -1 && objects.size < MAX_OBJECTS; at = pdf.indexOf("obj", at + 3)) {
    const head = OBJECT_HEAD.exec(pdf.slice(Math.max(0, at - 48), at));
    if (head === null || /\w/.test(pdf[at + 3] ?? "")) continue;
    const number = Number(head[1]);
    const start = at + 3;
    const endobj = pdf.indexOf("endobj", start);
    const stream = pdf.indexOf("stream", start);
    if (stream === -1 || (endobj !== -1 && endobj < stream)) {
      if (endobj === -1) break;
      objects.set(number, { dict: pdf.slice(start, Math.min(endobj, start + MAX_OBJECT_CHARS)), content: null });
      at = endobj + 3; // past "endobj"
      continue;
    }
    const dict = pdf.slice(Math.max(start, stream - MAX_STREAM_DICT_CHARS), stream);
    let dataStart = stream + 6;
    if (pdf[dataStart] === "\r") dataStart++;
    if (pdf[dataStart] === "\n") dataStart++;
    const direct = /\/Length\s+(\d{1,10})(?![\d\s]*R)/.exec(dict);
    const declaredEnd = direct === null ? -1 : dataStart + Number(direct[1]);
    const endstream = pdf.indexOf("endstream", declaredEnd > dataStart && declaredEnd <= pdf.length ? declaredEnd : dataStart);
    if (endstream === -1) break;
    const dataEnd = declaredEnd > dataStart && declaredEnd <= endstream ? declaredEnd : endstream;
    objects.set(number, { dict, content: decodeStream(dict, bytes.subarray(dataStart, dataEnd), budget) });
    at = endstream + 6; // past "endstream"
  }
  // Object streams (PDF 1.5) hold further objects: "num offset" pairs, then the objects from /First.
  for (const object of [...objects.values()]) {
    if (object.content === null || !/\/Type\s*\/ObjStm/.test(object.dict)) continue;
    const first = Number(/\/First\s+(\d{1,10})/.exec(object.dict)?.[1] ?? NaN);
    if (!Number.isInteger(first)) continue;
    const header = object.content.slice(0, first).trim().split(/\s+/).map(Number);
    for (let i = 0; i + 1 < header.length && objects.size < MAX_OBJECTS; i += 2) {
      const from = first + header[i + 1]!;
      const to = Math.min(i + 3 < header.length ? first + header[i + 3]! : object.content.length, from + MAX_OBJECT_CHARS);
      if (!objects.has(header[i]!)) objects.set(header[i]!, { dict: object.content.slice(from, to), content: null });
    }
  }
  return objects;
}

/** `/Name 12 0 R` pairs of a resource dictionary. */
const NAMED_REF = /\/([^\s/<>[\]()]{1,127})\s+(\d{1,10})\s+\d{1,5}\s+R/g;

/** The font resource dictionaries in an object: `/Font << … >>` inline, or `/Font 12 0 R`. */
function fontDictionaries(dict: string, objects: Map<number, PdfObject>): string[] {
  const out: string[] = [];
  for (let at = dict.indexOf("/Font"); at !== -1; at = dict.indexOf("/Font", at + 5)) {
    const rest = dict.slice(at + 5, at + 64).trimStart();
    if (rest.startsWith("<<")) {
      const open = dict.indexOf("<<", at);
      const close = dict.indexOf(">>", open);
      if (close === -1) break;
      out.push(dict.slice(open + 2, close));
      at = close;
    } else {
      const ref = /^(\d{1,10})\s+\d{1,5}\s+R/.exec(rest);
      if (ref !== null) out.push(objects.get(Number(ref[1]))?.dict ?? "");
    }
  }
  return out;
}

/** Font resource name ("F1") → the ToUnicode CMap of the font it names. */
function fontCMaps(objects: Map<number, PdfObject>): Map<string, CMap> {
  const byStream = new Map<number, CMap | null>();
  const cmapOf = (fontNumber: number): CMap | null => {
    const ref = /\/ToUnicode\s+(\d{1,10})\s+\d{1,5}\s+R/.exec(objects.get(fontNumber)?.dict ?? "");
    if (ref === null) return null;
    const streamNumber = Number(ref[1]);
    if (!byStream.has(streamNumber)) {
      const content = objects.get(streamNumber)?.content ?? null;
      byStream.set(streamNumber, content === null ? null : parseCMap(content));
    }
    return byStream.get(streamNumber)!;
  };
  const names = new Map<string, CMap>();
  for (const object of objects.values()) {
    for (const fonts of fontDictionaries(object.dict, objects)) {
      for (const pair of fonts.matchAll(NAMED_REF)) {
        if (names.has(pair[1]!)) continue;
        const cmap = cmapOf(Number(pair[2]));
        if (cmap !== null) names.set(pair[1]!, cmap);
      }
    }
  }
  return names;
}

const ESCAPES: Record<string, number> = { n: 10, r: 13, t: 9, b: 8, f: 12 };

/** The bytes of a PDF literal string "(…)" starting at `at`, and where it ends. */
function literalString(content: string, at: number): { bytes: number[]; end: number } {
  const bytes: number[] = [];
  let depth = 1;
  let i = at + 1;
  while (i < content.length) {
    const c = content[i]!;
    if (c === "\\") {
      const octal = /^[0-7]{1,3}/.exec(content.slice(i + 1, i + 4));
      if (octal !== null) {
        if (bytes.length < MAX_STRING_BYTES) bytes.push(parseInt(octal[0], 8) & 0xff);
        i += 1 + octal[0].length;
        continue;
      }
      const next = content[i + 1] ?? "";
      if (next !== "\r" && next !== "\n" && next !== "" && bytes.length < MAX_STRING_BYTES) bytes.push(ESCAPES[next] ?? next.charCodeAt(0));
      i += 2;
      continue;
    }
    if (c === "(") depth++;
    if (c === ")" && --depth === 0) return { bytes, end: i + 1 };
    if (bytes.length < MAX_STRING_BYTES) bytes.push(c.charCodeAt(0));
    i++;
  }
  return { bytes, end: i };
}

function showText(bytes: number[], cmap: CMap | undefined): string {
  if (cmap === undefined) return binaryString(bytes);
  let out = "";
  for (let i = 0; i + cmap.bytes - 1 < bytes.length; i += cmap.bytes) {
    const code = cmap.bytes === 2 ? (bytes[i]! << 8) | bytes[i + 1]! : bytes[i]!;
    out += cmap.map.get(code) ?? "";
  }
  return out;
}

/** Letters and the quote operators: what PDF content-stream operators are made of. */
function isOperatorChar(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x27 || code === 0x22 || code === 0x2a;
}

/** Ends a name ("/F1"): white space and delimiters. */
function endsName(code: number): boolean {
  return code <= 0x20 || code === 0x2f || code === 0x3c || code === 0x3e || code === 0x5b || code === 0x5d || code === 0x28 || code === 0x29;
}

/** Text shown by one content stream's text operators, at most `max` characters. */
function contentText(content: string, fonts: Map<string, CMap>, max: number): string {
  const out: string[] = [];
  let length = 0;
  let font: CMap | undefined;
  let operands: (number[] | string)[] = [];
  let i = 0;
  while (i < content.length && length < max) {
    const code = content.charCodeAt(i);
    if (code === 0x28) {
      const s = literalString(content, i);
      operands.push(s.bytes);
      i = s.end;
    } else if (code === 0x3c && content.charCodeAt(i + 1) !== 0x3c) {
      const close = content.indexOf(">", i);
      if (close === -1) break;
      operands.push(hexBytes(content.slice(i + 1, close)));
      i = close + 1;
    } else if (code === 0x2f) {
      let end = i + 1;
      while (end < content.length && end - i < 128 && !endsName(content.charCodeAt(end))) end++;
      operands.push(content.slice(i, end));
      i = end;
    } else if (isOperatorChar(code)) {
      let end = i + 1;
      while (end < content.length && end - i < 16 && isOperatorChar(content.charCodeAt(end))) end++;
      const op = content.slice(i, end);
      i = end;
      if (op === "Tf") {
        const name = operands.find((o): o is string => typeof o === "string");
        font = name === undefined ? undefined : fonts.get(name.slice(1));
      } else if (op === "Tj" || op === "TJ" || op === "'" || op === '"') {
        for (const o of operands) {
          if (typeof o === "string") continue;
          const text = showText(o, font);
          out.push(text);
          length += text.length;
        }
        if (op !== "TJ") out.push("\n");
      } else if (op === "Td" || op === "TD" || op === "T*" || op === "ET" || op === "Tm") out.push("\n");
      if (operands.length > 0) operands = [];
    } else i++;
    // Operands without an operator are junk; do not let them pile up.
    if (operands.length > 10_000) operands = [];
  }
  return out.join("");
}

/**
 * The text of a PDF, as far as a bounded read finds it; "" when it has none readable. Never
 * throws for a damaged file.
 *
 * @example
 * pdfText(bytes) // "This is the GTUBE …"
 */
export function pdfText(bytes: Uint8Array): string {
  const objects = readObjects(binaryString(bytes), bytes, new Budget());
  const fonts = fontCMaps(objects);
  const parts: string[] = [];
  let length = 0;
  for (const object of objects.values()) {
    if (length >= MAX_TEXT_CHARS) break;
    if (object.content === null || !/\bBT\b/.test(object.content) || object.content.includes("begincmap")) continue;
    const text = contentText(object.content, fonts, MAX_TEXT_CHARS - length);
    parts.push(text);
    length += text.length;
  }
  return parts.join("\n");
}
