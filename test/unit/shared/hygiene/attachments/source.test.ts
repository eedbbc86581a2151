import { deflateSync } from "fflate";
import { describe, expect, it } from "vitest";
import { Budget, DEFAULT_INSPECTION_LIMITS, InspectionLimitError } from "../../../../../shared/hygiene/attachments/budget.ts";
import { deflateSource } from "../../../../../shared/hygiene/attachments/source.ts";
import { noise } from "./fixtures.ts";

const small = noise(20 * 1024);
const large = noise(20 * 1024 * 1024);
const smallDeflated = deflateSync(small, { level: 1 });
const largeDeflated = deflateSync(large, { level: 1 });

describe("compressed sources", () => {
  it("expands only the head it is asked for, so a 20 MB member's head costs what a 20 KB one's does", () => {
    const costs = [
      [smallDeflated, small],
      [largeDeflated, large],
    ].map(([compressed, original]) => {
      const budget = new Budget();
      const head = deflateSource(compressed!, original!.length, budget, "x").head(4096);
      expect([...head]).toEqual([...original!.subarray(0, 4096)]);
      return budget.work.inflated;
    });
    // The same start, compressed in blocks of slightly different shapes: within a step of each other.
    expect(Math.abs(costs[1]! - costs[0]!)).toBeLessThan(1024);
    expect(costs[1]).toBeLessThan(16 * 1024);
  });

  it("expands a whole member when asked, and charges every byte", () => {
    const budget = new Budget();
    const all = deflateSource(smallDeflated, small.length, budget, "x").all();
    expect(all).toEqual(small);
    expect(budget.work.inflated).toBe(small.length);
  });

  it("refuses a member that expands past the size its archive declared, without expanding it all", () => {
    const bomb = deflateSync(new Uint8Array(8 * 1024 * 1024), { level: 9 });
    const budget = new Budget();
    expect(() => deflateSource(bomb, 100, budget, "bomb.bin").all()).toThrow(InspectionLimitError);
    expect(budget.work.inflated).toBeLessThan(1024 * 1024);
  });

  it("refuses before starting when the declared size exceeds what is left of the budget", () => {
    const budget = new Budget({ ...DEFAULT_INSPECTION_LIMITS, maxInflateBytes: 10_000 });
    expect(() => deflateSource(smallDeflated, small.length, budget, "x").all()).toThrow(/bytes decompressed/);
    expect(budget.work.inflated).toBe(0);
  });

  it("stops once the budget is spent, whatever the member declares", () => {
    const budget = new Budget({ ...DEFAULT_INSPECTION_LIMITS, maxInflateBytes: 8_000 });
    const source = deflateSource(smallDeflated, 4_000, budget, "x");
    source.head(4096);
    expect(() => deflateSource(smallDeflated, small.length, budget, "y").head(20_000)).toThrow(InspectionLimitError);
    expect(budget.work.inflated).toBeLessThan(8_000 + 300 * 1024);
  });
});
