import {
  ARCHIVE_RATIO_MIN_BYTES,
  MAX_ARCHIVE_COMPRESSION_RATIO,
  MAX_ARCHIVE_DEPTH,
  MAX_ARCHIVE_ENTRIES,
  MAX_ARCHIVE_EXPANDED_BYTES,
  MAX_ARCHIVE_INFLATE_BYTES,
} from "../../limits.ts";

/** The bounds one message's attachment inspection works within (see shared/limits.ts). */
export interface InspectionLimits {
  maxDepth: number;
  maxEntries: number;
  maxExpandedBytes: number;
  maxInflateBytes: number;
  maxRatio: number;
  ratioMinBytes: number;
}

export const DEFAULT_INSPECTION_LIMITS: Readonly<InspectionLimits> = Object.freeze({
  maxDepth: MAX_ARCHIVE_DEPTH,
  maxEntries: MAX_ARCHIVE_ENTRIES,
  maxExpandedBytes: MAX_ARCHIVE_EXPANDED_BYTES,
  maxInflateBytes: MAX_ARCHIVE_INFLATE_BYTES,
  maxRatio: MAX_ARCHIVE_COMPRESSION_RATIO,
  ratioMinBytes: ARCHIVE_RATIO_MIN_BYTES,
});

/** Validates limits given by a caller: every one a positive integer (no silent fallback to a default). */
export function checkLimits(limits: InspectionLimits): InspectionLimits {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`inspection limit ${name} must be a positive integer, got ${String(value)}`);
  }
  return limits;
}

/**
 * Content could not be inspected within the limits: a decompression bomb, too many files, nesting
 * too deep. Not a bug and not transient; the attachment filter refuses the message.
 */
export class InspectionLimitError extends Error {
  override name = "InspectionLimitError";
  /** The file, as a path of containers ("invoice.zip > inner.zip"). */
  readonly file: string;
  /** Which limit, in words. */
  readonly rule: string;

  constructor(file: string, rule: string) {
    super(`${file}: ${rule}`);
    this.file = file;
    this.rule = rule;
  }
}

/** What inspecting one message cost, in bytes: what the tests compare between small and large attachments. */
export interface Work {
  /** Bytes the checks looked at: heads, archive directories, PDF windows, OLE2 directory sectors, decoded text. */
  scanned: number;
  /** Bytes produced by decompression. */
  inflated: number;
  /** Bytes hashed for the SHA-256 blocklist. */
  hashed: number;
}

/** The running totals of one inspection, checked against its limits. */
export class Budget {
  readonly limits: InspectionLimits;
  readonly work: Work = { scanned: 0, inflated: 0, hashed: 0 };
  entries = 0;
  expanded = 0;

  constructor(limits: InspectionLimits = DEFAULT_INSPECTION_LIMITS) {
    this.limits = limits;
  }

  /** Counts archive entries; throws past the limit. */
  addEntries(count: number, where: string): void {
    this.entries += count;
    if (this.entries > this.limits.maxEntries) throw new InspectionLimitError(where, `more than ${this.limits.maxEntries} files in archives`);
  }

  /** Counts the size a member declares, and checks its compression ratio; throws past either limit. */
  addMember(where: string, size: number, compressed: number | null): void {
    this.expanded += size;
    if (this.expanded > this.limits.maxExpandedBytes) {
      throw new InspectionLimitError(where, `archives expand to more than ${this.limits.maxExpandedBytes} bytes`);
    }
    if (compressed !== null) this.checkRatio(where, size, compressed);
  }

  checkRatio(where: string, expanded: number, compressed: number): void {
    if (expanded >= this.limits.ratioMinBytes && expanded / Math.max(compressed, 1) > this.limits.maxRatio) {
      const ratio = Math.round(expanded / Math.max(compressed, 1));
      throw new InspectionLimitError(where, `compression ratio ${ratio}:1 over ${this.limits.maxRatio}:1 (decompression bomb)`);
    }
  }

  /** Counts decompressed bytes; throws past the limit. */
  addInflated(bytes: number, where: string): void {
    this.work.inflated += bytes;
    if (this.work.inflated > this.limits.maxInflateBytes) {
      throw new InspectionLimitError(where, `needs more than ${this.limits.maxInflateBytes} bytes decompressed to inspect`);
    }
  }

  checkDepth(depth: number, where: string): void {
    if (depth > this.limits.maxDepth) throw new InspectionLimitError(where, `nested deeper than ${this.limits.maxDepth} containers`);
  }
}
