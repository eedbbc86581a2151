import { describe, expect, it } from "vitest";
import { memoryDirectory } from "../../shared/directory/memory.ts";
import { ROBUSTNESS_MAX_HEAP_MB, ROBUSTNESS_MAX_MS, robustness } from "../../scripts/eval/robustness.ts";

describe("hostile structure, timed and measured", () => {
  it(`answers every case within ${ROBUSTNESS_MAX_MS} ms and ${ROBUSTNESS_MAX_HEAP_MB} MB of heap`, async () => {
    const report = await robustness(await memoryDirectory({ domains: ["example.com"], recipients: ["alice@example.com"] }));
    expect(report.cases).toBeGreaterThanOrEqual(50);
    expect(report.exceptions).toEqual([]);
    expect(report.verdicts).toBe(report.cases);
    expect(report.overBudget).toEqual([]);
  });
});
