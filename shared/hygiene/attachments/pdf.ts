import { PDF_SCAN_BYTES } from "../../limits.ts";
import { latin1 } from "./bytes.ts";

/** What a PDF's first and last bytes say about it. */
export interface PdfMarkers {
  /** `/Encrypt` in the trailer: the content is encrypted and cannot be inspected. */
  encrypted: boolean;
  /** `/JavaScript` or `/JS`: the document carries scripts. */
  javascript: boolean;
  /** `/OpenAction` or `/AA`: something runs when the document or a page opens. */
  autoAction: boolean;
  /** `/Launch`: an action that starts another program. */
  launch: boolean;
  scanned: number;
}

/** `/Name` followed by a delimiter, so `/JS` does not match `/JSFoo`. */
const NAMES: [keyof Omit<PdfMarkers, "scanned">, RegExp][] = [
  ["encrypted", /\/Encrypt(?![A-Za-z0-9])/],
  ["javascript", /\/(?:JavaScript|JS)(?![A-Za-z0-9])/],
  ["autoAction", /\/(?:OpenAction|AA)(?![A-Za-z0-9])/],
  ["launch", /\/Launch(?![A-Za-z0-9])/],
];

/**
 * Looks for /Encrypt, /JavaScript, /JS, /OpenAction, /AA and /Launch in the first and last
 * PDF_SCAN_BYTES of a PDF — the trailer and catalog live there in practice — with `#xx` escapes
 * in names decoded (`/J#61vaScript` is `/JavaScript` to a reader). A marker only in the middle of
 * a large file is missed: the price of a cost that does not grow with the file.
 *
 * @param start the first bytes; `end` the last bytes, or null when only the start is at hand.
 */
export function pdfMarkers(start: Uint8Array, end: Uint8Array | null): PdfMarkers {
  const windows = [start.subarray(0, PDF_SCAN_BYTES)];
  if (end !== null) windows.push(end.subarray(Math.max(0, end.length - PDF_SCAN_BYTES)));
  const text = windows.map((w) => decodeNameEscapes(latin1(w))).join("\n");
  const found: PdfMarkers = { encrypted: false, javascript: false, autoAction: false, launch: false, scanned: windows.reduce((n, w) => n + w.length, 0) };
  for (const [key, pattern] of NAMES) found[key] = pattern.test(text);
  return found;
}

function decodeNameEscapes(text: string): string {
  return text.replace(/\/[^\s/<>[\]()%{}]*#[0-9A-Fa-f]{2}[^\s/<>[\]()%{}]*/g, (name) =>
    name.replace(/#([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
  );
}
