import { describe, expect, it } from "vitest";
import { type Entry, SCL_NONE } from "../../../../shared/directory/entry.ts";
import { encodeOverlay, overlayLookup } from "../../../../shared/directory/overlay.ts";
import { encodeShard, shardBitsFor, shardIndex, shardLookup, shardSize } from "../../../../shared/directory/shard.ts";

function hash(...bytes: number[]): Uint8Array {
  const h = new Uint8Array(16);
  h.set(bytes);
  return h;
}
const entry = (h: Uint8Array, flags = 0, scl = SCL_NONE): Entry => ({ hash: h, flags, scl });

describe("recipient shards", () => {
  it("finds every entry with its flags and nothing else, whatever the input order", () => {
    const entries = Array.from({ length: 500 }, (_, i) => entry(hash(i >> 8, i & 0xff, 7), i % 2, i % 10));
    const shard = encodeShard([...entries].reverse());
    expect(shardSize(shard)).toBe(500);
    for (const [i, e] of entries.entries()) expect(shardLookup(shard, e.hash)).toEqual({ flags: i % 2, scl: i % 10 });
    expect(shardLookup(shard, hash(0, 0, 8))).toBeNull();
    expect(shardLookup(shard, hash(255, 255))).toBeNull();
  });

  it("keeps one entry per hash (the last given) at 18 bytes an entry", () => {
    const shard = encodeShard([entry(hash(1), 0), entry(hash(1), 1), entry(hash(2))]);
    expect(shardSize(shard)).toBe(2);
    expect(shard.byteLength).toBe(8 + 2 * 18);
    expect(shardLookup(shard, hash(1))).toEqual({ flags: 1, scl: SCL_NONE });
  });

  it("handles the empty shard", () => {
    const shard = encodeShard([]);
    expect(shardSize(shard)).toBe(0);
    expect(shardLookup(shard, hash(1))).toBeNull();
  });

  it("refuses a damaged blob instead of answering from it", () => {
    const shard = encodeShard([entry(hash(1)), entry(hash(2))]);
    expect(() => shardSize(shard.subarray(0, shard.length - 1))).toThrow(/wrong length/);
    const bad = shard.slice();
    bad[0] = 0;
    expect(() => shardLookup(bad, hash(1))).toThrow(/not a recipient shard/);
  });

  it("sizes the shard count to the directory", () => {
    expect(shardBitsFor(0)).toBe(0);
    expect(shardBitsFor(4096)).toBe(0);
    expect(shardBitsFor(4097)).toBe(1);
    expect(shardBitsFor(1_000_000)).toBe(8);
    expect(shardBitsFor(1e9)).toBe(12);
  });

  it("indexes by the leading bits of the hash", () => {
    expect(shardIndex(hash(0xff, 0xff), 0)).toBe(0);
    expect(shardIndex(hash(0x80), 1)).toBe(1);
    expect(shardIndex(hash(0x7f, 0xff), 1)).toBe(0);
    expect(shardIndex(hash(0xab, 0xcd), 12)).toBe(0xabc);
  });
});

describe("overlay", () => {
  it("says present (with flags), removed, or nothing", () => {
    const overlay = encodeOverlay([
      { hash: hash(9), entry: entry(hash(9), 1, 4) },
      { hash: hash(3), entry: null },
    ]);
    expect(overlayLookup(overlay, hash(9))).toEqual({ flags: 1, scl: 4 });
    expect(overlayLookup(overlay, hash(3))).toBeNull();
    expect(overlayLookup(overlay, hash(5))).toBeUndefined();
    expect(overlayLookup(new Uint8Array(0), hash(5))).toBeUndefined();
    expect(() => overlayLookup(overlay.subarray(1), hash(5))).toThrow(/wrong length/);
  });
});
