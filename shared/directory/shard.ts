import { compareHashes, ENTRY_BYTES, type Entry, searchRecords } from "./entry.ts";
import { RECIPIENT_HASH_BYTES } from "./hash.ts";

/**
 * A recipient shard: every address whose keyed hash starts with the shard's prefix. Binary
 * layout (big-endian):
 *
 *   "PCS2" magic · u32 entry count · count × (16-byte hash · u8 flags · u8 SCL override), ascending by hash
 *
 * 18 bytes an address, and a lookup is a binary search in place, with no decoding step.
 */
const MAGIC = [0x50, 0x43, 0x53, 0x32]; // "PCS2"
const HEADER_BYTES = 8;

/** Most prefix bits (4,096 shards): enough for tens of millions of addresses at ~72 KiB a shard. */
export const MAX_SHARD_BITS = 12;

/** Target entries per shard: 4,096 × 18 B ≈ 72 KiB, one cheap KV read. */
export const TARGET_SHARD_ENTRIES = 4096;

/** Prefix bits for a directory of `count` addresses. */
export function shardBitsFor(count: number): number {
  let bits = 0;
  while (bits < MAX_SHARD_BITS && count / 2 ** bits > TARGET_SHARD_ENTRIES) bits++;
  return bits;
}

/** Which shard a hash belongs to: its first `bits` bits. */
export function shardIndex(hash: Uint8Array, bits: number): number {
  if (bits === 0) return 0;
  const top = (hash[0]! << 8) | hash[1]!;
  return top >>> (16 - bits);
}

/** Encodes entries (any order; for a repeated hash the last one wins) as a shard blob. */
export function encodeShard(entries: Entry[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => compareHashes(a.hash, b.hash));
  const unique: Entry[] = [];
  for (const e of sorted) {
    if (unique.length > 0 && compareHashes(unique[unique.length - 1]!.hash, e.hash) === 0) unique[unique.length - 1] = e;
    else unique.push(e);
  }
  return encodeSortedShard(unique);
}

/** Encodes entries already sorted by hash with no repeats (the hub's streaming build). */
export function encodeSortedShard(entries: Entry[]): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + entries.length * ENTRY_BYTES);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, entries.length);
  entries.forEach((e, i) => {
    const at = HEADER_BYTES + i * ENTRY_BYTES;
    out.set(e.hash.subarray(0, RECIPIENT_HASH_BYTES), at);
    out[at + RECIPIENT_HASH_BYTES] = e.flags;
    out[at + RECIPIENT_HASH_BYTES + 1] = e.scl;
  });
  return out;
}

/**
 * Number of entries, after checking the shard is well formed; throws on a damaged blob. Read with
 * plain byte reads: every lookup checks its shard, so this allocates nothing.
 */
export function shardSize(shard: Uint8Array): number {
  if (shard.length < HEADER_BYTES || shard[0] !== MAGIC[0] || shard[1] !== MAGIC[1] || shard[2] !== MAGIC[2] || shard[3] !== MAGIC[3]) {
    throw new Error("not a recipient shard");
  }
  const count = ((shard[4]! << 24) | (shard[5]! << 16) | (shard[6]! << 8) | shard[7]!) >>> 0;
  if (shard.length !== HEADER_BYTES + count * ENTRY_BYTES) throw new Error("recipient shard has the wrong length");
  return count;
}

/** The entry for a hash, or null. */
export function shardLookup(shard: Uint8Array, hash: Uint8Array): { flags: number; scl: number } | null {
  const at = searchRecords(shard, HEADER_BYTES, shardSize(shard), ENTRY_BYTES, hash);
  if (at < 0) return null;
  return { flags: shard[at + RECIPIENT_HASH_BYTES]!, scl: shard[at + RECIPIENT_HASH_BYTES + 1]! };
}
