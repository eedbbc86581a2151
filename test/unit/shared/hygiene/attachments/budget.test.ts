import { describe, expect, it } from "vitest";
import { Budget, checkLimits, DEFAULT_INSPECTION_LIMITS, InspectionLimitError } from "../../../../../shared/hygiene/attachments/budget.ts";
import { describePath } from "../../../../../shared/hygiene/attachments/file.ts";

describe("inspection budget", () => {
  it("takes its defaults from shared/limits.ts and refuses limits that are not positive integers", () => {
    expect(checkLimits({ ...DEFAULT_INSPECTION_LIMITS })).toEqual(DEFAULT_INSPECTION_LIMITS);
    expect(() => checkLimits({ ...DEFAULT_INSPECTION_LIMITS, maxDepth: 0 })).toThrow(/maxDepth/);
    expect(() => checkLimits({ ...DEFAULT_INSPECTION_LIMITS, maxRatio: Number.NaN })).toThrow(/maxRatio/);
  });

  it("counts entries, declared sizes and decompressed bytes against their limits", () => {
    const budget = new Budget({ ...DEFAULT_INSPECTION_LIMITS, maxEntries: 2, maxExpandedBytes: 100, maxInflateBytes: 50 });
    budget.addEntries(2, "a.zip");
    expect(() => budget.addEntries(1, "a.zip")).toThrow("a.zip: more than 2 files in archives");
    budget.addMember("a.zip > x", 100, 100);
    expect(() => budget.addMember("a.zip > y", 1, 1)).toThrow(/expand to more than 100 bytes/);
    budget.addInflated(50, "a.zip > x");
    expect(() => budget.addInflated(1, "a.zip > x")).toThrow(InspectionLimitError);
  });

  it("applies the compression ratio only to members big enough to matter", () => {
    const budget = new Budget();
    expect(() => budget.checkRatio("small", 100_000, 10)).not.toThrow();
    expect(() => budget.checkRatio("big", 10 * 1024 * 1024, 1024)).toThrow(/compression ratio 10240:1 over 100:1/);
    expect(() => budget.checkRatio("text", 10 * 1024 * 1024, 1024 * 1024)).not.toThrow();
  });

  it("writes paths outermost first and shortens very long names", () => {
    expect(describePath(["a.zip", "b.zip", "c.exe"])).toBe("a.zip > b.zip > c.exe");
    expect(describePath(["x".repeat(500)])).toHaveLength(120);
  });
});
