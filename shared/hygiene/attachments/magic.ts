import { hasBytes, u32be } from "./bytes.ts";

/** What a file is, by its first bytes (its "true type"), whatever its name or declared type say. */
export type FileKind =
  | "pe"
  | "elf"
  | "macho"
  | "script"
  | "lnk"
  | "chm"
  | "ole2"
  | "msi"
  | "pdf"
  | "zip"
  | "rar"
  | "7z"
  | "gzip"
  | "xz"
  | "bzip2"
  | "cab"
  | "tar"
  | "iso"
  | "vhd"
  | "vhdx";

/**
 * The extension each true type goes by. A file whose true type's extension is on the blocked list
 * is blocked whatever it is called, so a Windows executable named `invoice.pdf` is still an `.exe`.
 * Script files (`#!`) have no single extension and are judged by the disguise rule instead; zip
 * is left out because it is also the container of every OOXML and OpenDocument file, jar and apk,
 * so a zip is judged by what it holds.
 */
export const KIND_EXTENSION: Readonly<Partial<Record<FileKind, string>>> = {
  pe: "exe",
  elf: "elf",
  macho: "macho",
  lnk: "lnk",
  chm: "chm",
  msi: "msi",
  pdf: "pdf",
  rar: "rar",
  "7z": "7z",
  gzip: "gz",
  xz: "xz",
  bzip2: "bz2",
  cab: "cab",
  tar: "tar",
  iso: "iso",
  vhd: "vhd",
  vhdx: "vhdx",
};

/** True types that run code when opened: such content under a document's name is a disguise. */
export const EXECUTABLE_KINDS: ReadonlySet<FileKind> = new Set<FileKind>(["pe", "elf", "macho", "script", "lnk", "chm", "msi"]);

/** Containers the inspection opens and lists. */
export const ARCHIVE_KINDS: ReadonlySet<FileKind> = new Set<FileKind>(["zip", "rar", "7z", "gzip", "tar"]);

/** ISO 9660 and UDF put their volume descriptors 32 KiB in, at 0x8001, 0x8801 or 0x9001; this many bytes cover all three. */
export const ISO_PROBE_BYTES = 0x9006;
const ISO_OFFSETS = [0x8001, 0x8801, 0x9001];

const MACHO = [
  [0xfe, 0xed, 0xfa, 0xce],
  [0xfe, 0xed, 0xfa, 0xcf],
  [0xce, 0xfa, 0xed, 0xfe],
  [0xcf, 0xfa, 0xed, 0xfe],
];
/** Acrobat accepts `%PDF-` anywhere in the first KiB, and so do attackers hiding a PDF behind junk. */
const PDF_HEADER_WINDOW = 1024;

/**
 * The true type of a file from its first bytes (up to ISO_PROBE_BYTES matter), or null for
 * anything not recognised — plain text, images, media.
 *
 * @example
 * sniff(new TextEncoder().encode("%PDF-1.7\n…")) // "pdf"
 */
export function sniff(head: Uint8Array): FileKind | null {
  if (hasBytes(head, 0, "MZ")) return "pe";
  if (hasBytes(head, 0, [0x7f, 0x45, 0x4c, 0x46])) return "elf";
  if (MACHO.some((m) => hasBytes(head, 0, m))) return "macho";
  // 0xCAFEBABE starts both universal Mach-O binaries and Java classes; a fat binary's next word is
  // its (small) architecture count, a class file's is its version (45 or more).
  if (hasBytes(head, 0, [0xca, 0xfe, 0xba, 0xbe]) && head.length >= 8 && u32be(head, 4) < 45) return "macho";
  if (hasBytes(head, 0, "#!")) return "script";
  if (hasBytes(head, 0, [0x4c, 0, 0, 0, 0x01, 0x14, 0x02, 0])) return "lnk";
  if (hasBytes(head, 0, "ITSF")) return "chm";
  if (hasBytes(head, 0, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return "ole2";
  if (hasBytes(head, 0, "PK\x03\x04") || hasBytes(head, 0, "PK\x05\x06") || hasBytes(head, 0, "PK\x07\x08PK\x03\x04")) return "zip";
  if (hasBytes(head, 0, "Rar!\x1a\x07\x00") || hasBytes(head, 0, "Rar!\x1a\x07\x01\x00")) return "rar";
  if (hasBytes(head, 0, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return "7z";
  if (hasBytes(head, 0, [0x1f, 0x8b, 0x08])) return "gzip";
  if (hasBytes(head, 0, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return "xz";
  if (hasBytes(head, 0, "BZh") && head[3] !== undefined && head[3] >= 0x31 && head[3] <= 0x39) return "bzip2";
  if (hasBytes(head, 0, [0x4d, 0x53, 0x43, 0x46, 0, 0, 0, 0])) return "cab";
  if (hasBytes(head, 0, "vhdxfile")) return "vhdx";
  if (hasBytes(head, 0, "conectix")) return "vhd";
  if (hasBytes(head, 257, "ustar")) return "tar";
  if (ISO_OFFSETS.some((at) => hasBytes(head, at, "CD001") || hasBytes(head, at, "BEA01"))) return "iso";
  if (findPdfHeader(head)) return "pdf";
  return null;
}

function findPdfHeader(head: Uint8Array): boolean {
  const end = Math.min(head.length, PDF_HEADER_WINDOW) - 5;
  for (let i = 0; i <= end; i++) if (head[i] === 0x25 && hasBytes(head, i, "%PDF-")) return true;
  return false;
}

/**
 * Whether a file could be a disc image whose descriptors lie past the head already read: its
 * first bytes are the all-zero system area of an ISO, or a boot sector (hybrid ISOs). Only then
 * is it worth reading ISO_PROBE_BYTES of a compressed archive member.
 */
export function mayBeDiscImage(head: Uint8Array, size: number): boolean {
  if (size < ISO_OFFSETS[0]! + 5 || head.length >= ISO_PROBE_BYTES) return false;
  if (head[510] === 0x55 && head[511] === 0xaa) return true;
  for (const byte of head) if (byte !== 0) return false;
  return true;
}
