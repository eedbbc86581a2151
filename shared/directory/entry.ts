import { RECIPIENT_HASH_BYTES } from "./hash.ts";

/** What an edge knows about one address: its keyed hash and the recipient's flags. */
export interface Entry {
  hash: Uint8Array;
  flags: number;
  /** SCL override 0–9, or {@link SCL_NONE}. */
  scl: number;
}

/** What the read path returns for a known address. */
export interface RecipientInfo {
  /** Refuse mail from the internet for this recipient (internal-only addresses). */
  rejectInternet: boolean;
  /** Per-recipient Spam Confidence Level threshold override, or null. */
  sclOverride: number | null;
}

export const FLAG_REJECT_INTERNET = 0x01;
export const SCL_NONE = 0xff;

/** Bytes of one entry in a shard: hash, flags, SCL override. */
export const ENTRY_BYTES = RECIPIENT_HASH_BYTES + 2;

export function entryFor(hash: Uint8Array, info: { rejectInternet?: boolean; sclOverride?: number | null }): Entry {
  const scl = info.sclOverride;
  return { hash, flags: info.rejectInternet ? FLAG_REJECT_INTERNET : 0, scl: scl === null || scl === undefined ? SCL_NONE : scl };
}

export function infoOf(flags: number, scl: number): RecipientInfo {
  return { rejectInternet: (flags & FLAG_REJECT_INTERNET) !== 0, sclOverride: scl === SCL_NONE ? null : scl };
}

export function compareHashes(a: Uint8Array, b: Uint8Array): number {
  return compareHashAt(a, 0, b);
}

/** {@link compareHashes} of the hash at `bytes[at]` and `hash`, read in place (no view made per step). */
function compareHashAt(bytes: Uint8Array, at: number, hash: Uint8Array): number {
  for (let i = 0; i < RECIPIENT_HASH_BYTES; i++) {
    const d = bytes[at + i]! - hash[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Binary search over fixed-size records that start with a 16-byte hash. Returns the record's
 * offset, or -1.
 */
export function searchRecords(bytes: Uint8Array, start: number, count: number, recordBytes: number, hash: Uint8Array): number {
  let lo = 0;
  let hi = count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = start + mid * recordBytes;
    const d = compareHashAt(bytes, at, hash);
    if (d === 0) return at;
    if (d < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
