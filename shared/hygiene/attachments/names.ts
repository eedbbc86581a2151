/** File names as the attachment checks read them: what Windows would make of them, not what they look like. */

/** A file name reduced to what decides how it opens. */
export interface FileName {
  /** The last path segment, NFKC-normalised, lower case, without the trailing dots and spaces Windows drops. */
  base: string;
  /** The last extension ("exe" for `invoice.pdf.exe`), or null. */
  extension: string | null;
  /** The extension before it ("pdf" for `invoice.pdf.exe`), or null. */
  previous: string | null;
  /** Holds bidirectional controls (U+202E …) that show `invoice<U+202E>fdp.exe` as `invoiceexe.pdf`. */
  bidi: boolean;
}

const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/;
/** What can follow the last dot and still be an extension to Windows' shell. */
const EXTENSION = /^[a-z0-9_~$-]{1,16}$/;

/**
 * The ways a name can be read. Usually one; a name with a NUL in it is also read as what comes
 * before the NUL, which is what some clients save it as (`evil.exe\0.pdf`).
 *
 * @example
 * fileNames("Invoice.PDF   .exe. ") // [{ base: "invoice.pdf   .exe", extension: "exe", previous: "pdf", bidi: false }]
 */
export function fileNames(raw: string): FileName[] {
  const names = [describe(raw)];
  const nul = raw.indexOf("\0");
  if (nul >= 0) names.push(describe(raw.slice(0, nul)));
  return names;
}

function describe(raw: string): FileName {
  const segment = raw.split(/[/\\]/).pop() ?? "";
  const base = segment
    .normalize("NFKC")
    .replace(/[\u0000-\u001f\u007f]/g, "")
    .toLowerCase()
    .replace(/[.\s]+$/u, "")
    .trim();
  const parts = base.split(".").map((p) => p.trim());
  const extension = parts.length > 1 && EXTENSION.test(parts.at(-1)!) ? parts.at(-1)! : null;
  const previous = extension !== null && parts.length > 2 && EXTENSION.test(parts.at(-2)!) ? parts.at(-2)! : null;
  return { base, extension, previous, bidi: BIDI_CONTROLS.test(raw) };
}

/**
 * Extensions of what people expect to open safely — documents, images, media, web pages. One of
 * them right before an executable extension (`invoice.pdf.exe`) is a decoy: Windows hides the
 * last extension by default, so the recipient sees `invoice.pdf`.
 */
export const DECOY_EXTENSIONS: ReadonlySet<string> = new Set([
  "pdf",
  "doc",
  "docx",
  "xls",
  "xlsx",
  "ppt",
  "pptx",
  "rtf",
  "odt",
  "ods",
  "odp",
  "txt",
  "csv",
  "xml",
  "htm",
  "html",
  "eml",
  "msg",
  "jpg",
  "jpeg",
  "png",
  "gif",
  "bmp",
  "tif",
  "tiff",
  "svg",
  "webp",
  "mp3",
  "mp4",
  "wav",
  "avi",
  "mov",
  "wmv",
  "zip",
]);

/**
 * Archive and compression extensions. A blocked extension right before one of them
 * (`payload.scr.xz`) names what the archive unpacks to — and for formats the gateway cannot
 * open, the name is all there is to judge.
 */
export const ARCHIVE_EXTENSIONS: ReadonlySet<string> = new Set([
  "zip",
  "rar",
  "7z",
  "gz",
  "tgz",
  "bz2",
  "xz",
  "z",
  "lz",
  "lzma",
  "zst",
  "tar",
  "cab",
  "arj",
  "ace",
  "lzh",
]);
