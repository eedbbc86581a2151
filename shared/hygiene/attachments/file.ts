import type { FileKind } from "./magic.ts";
import type { Source } from "./source.ts";

/** Something the inspection learnt about a file, with the evidence (an entry name, a marker). */
export type Fact =
  /** An archive holding encrypted files, or with encrypted headers. */
  | "encrypted"
  /** A document with VBA or Excel 4.0 macros. */
  | "macros"
  | "pdf-encrypted"
  | "pdf-javascript"
  | "pdf-autoaction"
  | "pdf-launch"
  /** A password-protected Office Open XML document. */
  | "office-encrypted"
  /** Damaged: an archive or document that could not be read in full. */
  | "unreadable"
  /** Content this gateway cannot expand (RAR or 7z compression, exotic zip methods): only the name is known. */
  | "opaque";

/** One file found in a message: a part, a part of an attached message, an archive member, a uudecoded block. */
export interface InspectedFile {
  /** Where it is, outermost first: ["invoice.zip", "inner.zip", "eicar.com"]. */
  path: readonly string[];
  /** Its name as sent ("" when it has none); for archive members the stored path. */
  name: string;
  /** Other names the same file goes by (a zip entry's local header name when it differs). */
  otherNames: string[];
  /** The declared MIME type (parts only), lower case. */
  declaredType: string | null;
  /** Containers it is inside: 0 for a part of the message. */
  depth: number;
  /** Size in bytes: exact for parts, as declared for archive members. */
  size: number;
  /** The first bytes: ATTACHMENT_HEAD_BYTES (ISO_PROBE_BYTES for a compressed member that may be a disc image). */
  head: Uint8Array;
  /** Its true type by magic number. */
  kind: FileKind | null;
  /** An encrypted archive member: its content cannot be read. */
  encrypted: boolean;
  facts: Map<Fact, string>;
  /** Whether read() can return the content. */
  readable: boolean;
  /** The whole content, decompressed as needed. Throws InspectionLimitError past the budget. */
  read(): Uint8Array;
}

/** A file to inspect. */
export interface FileInput {
  path: readonly string[];
  name: string;
  otherNames?: string[];
  declaredType: string | null;
  depth: number;
  /** Null when the content is unavailable (encrypted, or in a compression this gateway cannot expand). */
  source: Source | null;
  /** The size when there is no source to tell it (what the archive declares). */
  size?: number;
  encrypted?: boolean;
  /** How the file appears in its path when it has no name of its own. */
  label?: string;
}

/** How a path is written in details and notes: `invoice.zip > inner.zip > eicar.com`. */
export function describePath(path: readonly string[]): string {
  return path.map((p) => (p.length > 120 ? `${p.slice(0, 117)}...` : p)).join(" > ");
}
