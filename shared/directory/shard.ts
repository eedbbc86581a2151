import { RECIPIENT_HASH_BYTES } from "./hash.ts";

/**
 * A recipient shard: the sorted keyed hashes of every recipient whose hash starts with the
 * shard's prefix. Binary layout (big-endian):
 *
 *   "PCS1" magic · u32 entry count · count × 16-byte hashes, ascending
 *
 * Compact (16 bytes a recipient), and a lookup is a binary search with no decoding step.
 */
const MAGIC = [0x50, 0x43, 0x53, 0x31]; // "PCS1"
const HEADER_BYTES = 8;

/** Most prefix bits (4,096 shards): enough for tens of millions of recipients at ~64 KiB a shard. */
export const MAX_SHARD_BITS = 12;

/** Target entries per shard; 4,096 × 16 B ≈ 64 KiB, one cheap KV read. */
export const TARGET_SHARD_ENTRIES = 4096;

/** Prefix bits for a directory of `count` recipients. */
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

export function compareHashes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < RECIPIENT_HASH_BYTES; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** Encodes hashes (any order, duplicates dropped) as a shard blob. */
export function encodeShard(hashes: Uint8Array[]): Uint8Array {
  const sorted = [...hashes].sort(compareHashes);
  const unique: Uint8Array[] = [];
  for (const h of sorted) {
    if (unique.length === 0 || compareHashes(unique[unique.length - 1]!, h) !== 0) unique.push(h);
  }
  const out = new Uint8Array(HEADER_BYTES + unique.length * RECIPIENT_HASH_BYTES);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, unique.length);
  unique.forEach((h, i) => out.set(h.subarray(0, RECIPIENT_HASH_BYTES), HEADER_BYTES + i * RECIPIENT_HASH_BYTES));
  return out;
}

/** Number of entries, after checking the shard is well formed; throws on a damaged blob. */
export function shardSize(shard: Uint8Array): number {
  if (shard.length < HEADER_BYTES || MAGIC.some((b, i) => shard[i] !== b)) throw new Error("not a recipient shard");
  const count = new DataView(shard.buffer, shard.byteOffset, shard.byteLength).getUint32(4);
  if (shard.length !== HEADER_BYTES + count * RECIPIENT_HASH_BYTES) throw new Error("recipient shard has the wrong length");
  return count;
}

/** Binary search for a hash in a shard. */
export function shardContains(shard: Uint8Array, hash: Uint8Array): boolean {
  let lo = 0;
  let hi = shardSize(shard) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = HEADER_BYTES + mid * RECIPIENT_HASH_BYTES;
    const d = compareHashes(shard.subarray(at, at + RECIPIENT_HASH_BYTES), hash);
    if (d === 0) return true;
    if (d < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
