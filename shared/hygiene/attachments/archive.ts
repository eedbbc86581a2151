import { ATTACHMENT_HEAD_BYTES, PDF_SCAN_BYTES } from "../../limits.ts";
import { type Budget, InspectionLimitError } from "./budget.ts";
import { describePath, type FileInput, type InspectedFile } from "./file.ts";
import { readGzip } from "./gzip.ts";
import { ISO_PROBE_BYTES, mayBeDiscImage, sniff } from "./magic.ts";
import { readOle2 } from "./ole2.ts";
import { pdfMarkers } from "./pdf.ts";
import { listRar } from "./rar.ts";
import { sevenZipEncrypted } from "./sevenzip.ts";
import { bytesSource, deflateSource, derivedSource, type Source } from "./source.ts";
import { listTar } from "./tar.ts";
import { decodeUu, uuBlockAt } from "./uuencode.ts";
import { listZip } from "./zip.ts";

/** Bytes a disc-image probe reads: "CD001" or "BEA01" at three offsets. */
const ISO_DESCRIPTOR_BYTES = 15;

/**
 * Inspects files and opens the containers among them — zip (and so OOXML and ODF documents, jar,
 * apk), gzip, tar, RAR (listing only), 7z (encryption only), uuencoded blocks — recursively, within
 * the limits of one {@link Budget}. Each file is recorded before its members, so a report names
 * the outermost file first. Throws {@link InspectionLimitError} when a limit is hit.
 */
export class ArchiveWalker {
  readonly files: InspectedFile[] = [];
  readonly budget: Budget;

  constructor(budget: Budget) {
    this.budget = budget;
  }

  visit(input: FileInput): InspectedFile {
    const where = describePath(input.path);
    const source = input.encrypted ? null : input.source;
    const file: InspectedFile = {
      path: input.path,
      name: input.name,
      otherNames: input.otherNames ?? [],
      declaredType: input.declaredType,
      depth: input.depth,
      size: input.source?.size ?? input.size ?? 0,
      head: new Uint8Array(0),
      kind: null,
      encrypted: input.encrypted ?? false,
      facts: new Map(),
      readable: source !== null,
      read: () => {
        if (source === null) throw new Error(`${where}: content not available`);
        return source.all();
      },
    };
    this.files.push(file);
    if (source === null) return file;
    try {
      let head = source.head(ATTACHMENT_HEAD_BYTES);
      let probe = head;
      if (source.resident) {
        // In memory the ISO descriptors 32 KiB in cost three 5-byte reads: sniff sees them, the head stays short.
        probe = source.head(ISO_PROBE_BYTES);
        this.budget.work.scanned += probe.length > head.length ? ISO_DESCRIPTOR_BYTES : 0;
      } else if (mayBeDiscImage(head, source.size)) {
        // A compressed member is expanded that far only when its head looks like a disc image's.
        head = probe = source.head(ISO_PROBE_BYTES);
      }
      file.head = head;
      this.budget.work.scanned += head.length;
      file.kind = sniff(probe);
      this.open(file, source, where);
    } catch (error) {
      if (error instanceof InspectionLimitError) throw error;
      file.facts.set("unreadable", error instanceof Error ? error.message : String(error));
    }
    return file;
  }

  private open(file: InspectedFile, source: Source, where: string): void {
    switch (file.kind) {
      case "zip":
        return this.openZip(file, this.containerBytes(file, source, where), where);
      case "gzip":
        return this.openGzip(file, this.containerBytes(file, source, where), where);
      case "tar":
        return this.openTar(file, this.containerBytes(file, source, where), where);
      case "rar":
        return this.openRar(file, this.containerBytes(file, source, where), where);
      case "7z": {
        const seven = sevenZipEncrypted(source.all());
        this.budget.work.scanned += seven.scanned;
        if (seven.encrypted === true) file.facts.set("encrypted", "7zAES");
        if (seven.encrypted === null) file.facts.set("unreadable", "7z end header missing");
        file.facts.set("opaque", "7z contents are not listed");
        return;
      }
      case "ole2":
        return this.inspectOle2(file, source.all(), where);
      case "pdf": {
        const markers = source.resident ? pdfMarkers(source.all(), source.all()) : pdfMarkers(source.head(PDF_SCAN_BYTES), null);
        this.budget.work.scanned += markers.scanned;
        if (markers.encrypted) file.facts.set("pdf-encrypted", "/Encrypt");
        if (markers.javascript) file.facts.set("pdf-javascript", "/JavaScript");
        if (markers.autoAction) file.facts.set("pdf-autoaction", "/OpenAction");
        if (markers.launch) file.facts.set("pdf-launch", "/Launch");
        return;
      }
      case null: {
        const block = uuBlockAt(file.head);
        if (block !== null) this.openUu(file, source, block, where);
        return;
      }
      default:
        return;
    }
  }

  /** The whole of a container, once its depth allows opening it. */
  private containerBytes(file: InspectedFile, source: Source, where: string): Uint8Array {
    if (file.depth + 1 > this.budget.limits.maxDepth) throw new InspectionLimitError(where, `nested deeper than ${this.budget.limits.maxDepth} containers`);
    return source.all();
  }

  private child(file: InspectedFile, name: string, source: Source | null, extra: Partial<FileInput> = {}): InspectedFile {
    const label = name === "" ? (extra.label ?? "(content)") : name;
    return this.visit({ path: [...file.path, label], name, declaredType: null, depth: file.depth + 1, source, ...extra });
  }

  private openZip(file: InspectedFile, bytes: Uint8Array, where: string): void {
    const listing = listZip(bytes, this.budget.limits.maxEntries - this.budget.entries);
    this.budget.work.scanned += listing.scanned;
    this.budget.addEntries(listing.entries.length, where);
    if (!listing.complete) file.facts.set("unreadable", "no central directory");
    const names = new Set(listing.entries.map((e) => e.name.toLowerCase()));
    for (const entry of listing.entries) {
      const lower = entry.name.toLowerCase();
      if (entry.encrypted) file.facts.set("encrypted", entry.name);
      // OOXML keeps VBA in vbaProject.bin and Excel 4.0 macros in xl/macrosheets/; OpenDocument keeps Basic under Basic/.
      if (/(^|\/)vbaproject\.bin$/.test(lower) || lower.startsWith("xl/macrosheets/") || (lower.startsWith("basic/") && names.has("mimetype"))) {
        file.facts.set("macros", entry.name);
      }
      if (entry.directory) continue;
      const childWhere = `${where} > ${entry.name}`;
      this.budget.addMember(childWhere, entry.size, entry.method === 0 ? null : entry.compressedSize);
      let source: Source | null = null;
      const data = entry.dataOffset === null ? null : bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
      if (data !== null && entry.method === 0) source = bytesSource(data);
      else if (data !== null && entry.method === 8) source = deflateSource(data, entry.size, this.budget, childWhere);
      const otherNames = entry.localName === null ? [] : [entry.localName];
      const member = this.child(file, entry.name, source, { encrypted: entry.encrypted, otherNames, size: entry.size });
      if (source === null && !entry.encrypted) member.facts.set("opaque", `zip compression method ${entry.method}`);
    }
  }

  private openGzip(file: InspectedFile, bytes: Uint8Array, where: string): void {
    const member = readGzip(bytes);
    if (member === null) {
      file.facts.set("unreadable", "damaged gzip header");
      return;
    }
    this.budget.work.scanned += member.scanned;
    this.budget.addEntries(1, where);
    // Without a stored name the member is the file's own name minus .gz (report.tgz holds report.tar).
    const outer = file.name.replace(/\.tgz$/i, ".tar").replace(/\.gz$/i, "");
    const name = member.name ?? (outer === file.name ? "" : outer);
    const childWhere = `${where} > ${name || "(content)"}`;
    this.budget.addMember(childWhere, member.size, member.data.length);
    this.child(file, name, deflateSource(member.data, member.size, this.budget, childWhere));
  }

  private openTar(file: InspectedFile, bytes: Uint8Array, where: string): void {
    const listing = listTar(bytes, this.budget.limits.maxEntries - this.budget.entries);
    this.budget.work.scanned += listing.scanned;
    this.budget.addEntries(listing.entries.length, where);
    for (const entry of listing.entries) {
      if (entry.directory) continue;
      this.budget.addMember(`${where} > ${entry.name}`, entry.size, null);
      this.child(file, entry.name, bytesSource(bytes.subarray(entry.dataOffset, entry.dataOffset + entry.size)));
    }
  }

  private openRar(file: InspectedFile, bytes: Uint8Array, where: string): void {
    const listing = listRar(bytes, this.budget.limits.maxEntries - this.budget.entries);
    this.budget.work.scanned += listing.scanned;
    this.budget.addEntries(listing.entries.length, where);
    if (listing.headersEncrypted) file.facts.set("encrypted", "encrypted headers");
    for (const entry of listing.entries) {
      if (entry.encrypted) file.facts.set("encrypted", entry.name);
      if (entry.directory) continue;
      this.budget.addMember(`${where} > ${entry.name}`, entry.size, entry.stored ? null : entry.compressedSize);
      const source = entry.stored ? bytesSource(bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize)) : null;
      const member = this.child(file, entry.name, source, { encrypted: entry.encrypted, size: entry.size });
      if (source === null && !entry.encrypted) member.facts.set("opaque", "RAR compression");
    }
  }

  private inspectOle2(file: InspectedFile, bytes: Uint8Array, where: string): void {
    const info = readOle2(bytes);
    if (info === null) {
      file.facts.set("unreadable", "damaged OLE2 header");
      return;
    }
    this.budget.work.scanned += info.scanned;
    if (info.truncated) {
      if (info.names.length >= this.budget.limits.maxEntries) throw new InspectionLimitError(where, "OLE2 directory too large to inspect");
      file.facts.set("unreadable", "OLE2 directory damaged or too large");
    }
    if (info.macros !== null) file.facts.set("macros", info.macros);
    if (info.installer) file.kind = "msi";
    if (info.encrypted) file.facts.set("office-encrypted", "EncryptedPackage");
  }

  private openUu(file: InspectedFile, source: Source, block: NonNullable<ReturnType<typeof uuBlockAt>>, where: string): void {
    const text = this.containerBytes(file, source, where);
    this.budget.addEntries(1, where);
    let first = decodeUu(text, block, ATTACHMENT_HEAD_BYTES + 1);
    this.budget.work.scanned += first.consumed;
    let decoded: Source;
    if (first.ended) decoded = bytesSource(first.bytes);
    else {
      // Four characters carry three bytes: an upper bound on the size until it is decoded in full.
      const estimate = Math.ceil(((text.length - block.dataOffset) * 3) / 4);
      decoded = derivedSource(
        estimate,
        (n) => {
          if (n > first.bytes.length) {
            first = decodeUu(text, block, n);
            this.budget.work.scanned += first.consumed;
          }
          return first.bytes.subarray(0, n);
        },
        () => {
          const all = decodeUu(text, block, Number.MAX_SAFE_INTEGER);
          this.budget.work.scanned += all.consumed;
          return all.bytes;
        },
      );
    }
    this.child(file, block.name, decoded);
  }
}
