import { compareHashes, type Entry, searchRecords } from "./entry.ts";
import { RECIPIENT_HASH_BYTES } from "./hash.ts";

/**
 * The overlay: addresses changed since the snapshot's base shards were built, each either present
 * (with its current flags) or removed. It travels inside the manifest, so a delta sync writes one
 * KV value however many shards the changes touch; when it grows past OVERLAY_MAX_ENTRIES the hub
 * builds new base shards instead.
 *
 *   count × (16-byte hash · u8 state (1 present, 0 removed) · u8 flags · u8 SCL override), ascending by hash
 */
const RECORD_BYTES = RECIPIENT_HASH_BYTES + 3;

/**
 * Overlay size at which the hub rebuilds the base shards. 8,192 × 19 B ≈ 152 KiB of manifest,
 * read once per version per isolate; beyond that a full rebuild is cheaper for every reader.
 */
export const OVERLAY_MAX_ENTRIES = 8192;

/** A change: the entry as it is now, or null when the address no longer exists. */
export interface OverlayChange {
  hash: Uint8Array;
  entry: Entry | null;
}

export function encodeOverlay(changes: OverlayChange[]): Uint8Array {
  const sorted = [...changes].sort((a, b) => compareHashes(a.hash, b.hash));
  const out = new Uint8Array(sorted.length * RECORD_BYTES);
  sorted.forEach((c, i) => {
    const at = i * RECORD_BYTES;
    out.set(c.hash.subarray(0, RECIPIENT_HASH_BYTES), at);
    out[at + RECIPIENT_HASH_BYTES] = c.entry === null ? 0 : 1;
    out[at + RECIPIENT_HASH_BYTES + 1] = c.entry?.flags ?? 0;
    out[at + RECIPIENT_HASH_BYTES + 2] = c.entry?.scl ?? 0;
  });
  return out;
}

export function overlaySize(overlay: Uint8Array): number {
  if (overlay.length % RECORD_BYTES !== 0) throw new Error("overlay has the wrong length");
  return overlay.length / RECORD_BYTES;
}

/**
 * What the overlay says about a hash: undefined when it says nothing (ask the shard), null when
 * the address was removed, or its current flags.
 */
export function overlayLookup(overlay: Uint8Array, hash: Uint8Array): { flags: number; scl: number } | null | undefined {
  const at = searchRecords(overlay, 0, overlaySize(overlay), RECORD_BYTES, hash);
  if (at < 0) return undefined;
  if (overlay[at + RECIPIENT_HASH_BYTES] === 0) return null;
  return { flags: overlay[at + RECIPIENT_HASH_BYTES + 1]!, scl: overlay[at + RECIPIENT_HASH_BYTES + 2]! };
}
