import { describe, expect, it } from "vitest";
import { encodeShard, shardBitsFor, shardContains, shardIndex, shardSize } from "../../../../shared/directory/shard.ts";

function hash(...bytes: number[]): Uint8Array {
  const h = new Uint8Array(16);
  h.set(bytes);
  return h;
}

describe("recipient shards", () => {
  it("finds every entry and nothing else, whatever the input order", () => {
    const entries = Array.from({ length: 500 }, (_, i) => hash(i >> 8, i & 0xff, 7));
    const shard = encodeShard([...entries].reverse());
    expect(shardSize(shard)).toBe(500);
    for (const e of entries) expect(shardContains(shard, e)).toBe(true);
    expect(shardContains(shard, hash(0, 0, 8))).toBe(false);
    expect(shardContains(shard, hash(255, 255))).toBe(false);
  });

  it("drops duplicates and stores 16 bytes an entry", () => {
    const shard = encodeShard([hash(1), hash(1), hash(2)]);
    expect(shardSize(shard)).toBe(2);
    expect(shard.byteLength).toBe(8 + 2 * 16);
  });

  it("handles the empty shard", () => {
    const shard = encodeShard([]);
    expect(shardSize(shard)).toBe(0);
    expect(shardContains(shard, hash(1))).toBe(false);
  });

  it("refuses a damaged blob instead of answering from it", () => {
    const shard = encodeShard([hash(1), hash(2)]);
    expect(() => shardSize(shard.subarray(0, shard.length - 1))).toThrow(/wrong length/);
    const bad = shard.slice();
    bad[0] = 0;
    expect(() => shardContains(bad, hash(1))).toThrow(/not a recipient shard/);
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
