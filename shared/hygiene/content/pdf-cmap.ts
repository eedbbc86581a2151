/**
 * ToUnicode CMaps: how a PDF font's glyph codes map to text. Word processors embed subset fonts
 * whose codes mean nothing without this map (LibreOffice writes "<01><02>" for "Th").
 */

/** Glyph code → text, with the code width in bytes. */
export interface CMap {
  bytes: 1 | 2;
  map: Map<number, string>;
}

/**
 * Mappings one CMap may hold. A bfrange line of 20 bytes can claim 65,536 codes; real subset fonts
 * map a few hundred, CJK fonts some 20,000.
 */
export const MAX_CMAP_ENTRIES = 65_536;

/** The bytes of a hex string ("<48 65>"), white space ignored, an odd last digit padded with 0. */
export function hexBytes(hex: string): number[] {
  const clean = hex.replace(/[^0-9a-f]/gi, "");
  const out: number[] = [];
  for (let i = 0; i < clean.length; i += 2) out.push(parseInt(clean.slice(i, i + 2).padEnd(2, "0"), 16));
  return out;
}

/** UTF-16BE hex (a CMap destination) to text. */
function utf16Hex(hex: string): string {
  const b = hexBytes(hex);
  let out = "";
  for (let i = 0; i + 1 < b.length; i += 2) out += String.fromCharCode((b[i]! << 8) | b[i + 1]!);
  return out;
}

function hexValue(hex: string): number {
  return parseInt(hex.replace(/[^0-9a-f]/gi, "").slice(-8) || "0", 16);
}

/** The bodies of every `begin<name> … end<name>` section, found forward only (an unclosed one ends the search). */
function sections(text: string, name: string): string[] {
  const out: string[] = [];
  const begin = `begin${name}`;
  const end = `end${name}`;
  for (let at = text.indexOf(begin); at !== -1;) {
    const close = text.indexOf(end, at + begin.length);
    if (close === -1) break;
    out.push(text.slice(at + begin.length, close));
    at = text.indexOf(begin, close + end.length);
  }
  return out;
}

const PAIR = /<([0-9a-f\s]{0,64})>\s*<([0-9a-f\s]{0,512})>/gi;
const RANGE = /<([0-9a-f\s]{0,64})>\s*<([0-9a-f\s]{0,64})>\s*(<[0-9a-f\s]{0,512}>|\[[^\]]{0,65536}\])/gi;

/**
 * Reads a ToUnicode CMap: its code width (from the first codespace range) and its bfchar and
 * bfrange mappings, at most {@link MAX_CMAP_ENTRIES}.
 *
 * @example
 * parseCMap("begincodespacerange <00> <FF> endcodespacerange beginbfchar <01> <0054> endbfchar").map.get(1) // "T"
 */
export function parseCMap(text: string): CMap {
  const codespace = /begincodespacerange\s*<([0-9a-f\s]{0,16})>/i.exec(text);
  const bytes = codespace !== null && codespace[1]!.replace(/\s/g, "").length > 2 ? 2 : 1;
  const map = new Map<number, string>();
  for (const body of sections(text, "bfchar")) {
    for (const pair of body.matchAll(PAIR)) {
      if (map.size >= MAX_CMAP_ENTRIES) return { bytes, map };
      map.set(hexValue(pair[1]!), utf16Hex(pair[2]!));
    }
  }
  for (const body of sections(text, "bfrange")) {
    for (const range of body.matchAll(RANGE)) {
      const lo = hexValue(range[1]!);
      const hi = hexValue(range[2]!);
      const target = range[3]!;
      const items = target.startsWith("[") ? [...target.matchAll(/<([0-9a-f\s]{0,512})>/gi)].map((m) => utf16Hex(m[1]!)) : null;
      const base = items === null ? utf16Hex(target.slice(1, -1)) : "";
      for (let code = lo; code <= hi; code++) {
        if (map.size >= MAX_CMAP_ENTRIES) return { bytes, map };
        if (items !== null) {
          if (code - lo >= items.length) break;
          map.set(code, items[code - lo]!);
        } else map.set(code, base.slice(0, -1) + String.fromCharCode(base.charCodeAt(base.length - 1) + code - lo));
      }
    }
  }
  return { bytes, map };
}
