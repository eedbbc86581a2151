import { runPipeline } from "../../shared/hygiene/pipeline.ts";
import type { DirectoryReader } from "../../shared/directory/reader.ts";
import { hostileInputs } from "./hostile-inputs.ts";

/** Longest one hostile input may take through the whole pipeline (Node, one core). */
export const ROBUSTNESS_MAX_MS = 2_000;
/** Most heap one hostile input may add while it is processed: well inside a 128 MB isolate. */
export const ROBUSTNESS_MAX_HEAP_MB = 96;

export interface RobustnessReport {
  cases: number;
  verdicts: number;
  exceptions: string[];
  slowest: { name: string; ms: number };
  heaviest: { name: string; mb: number };
  overBudget: string[];
}

/** Runs every hostile input through the pipeline, timing each and measuring the heap it adds. */
export async function robustness(directory: DirectoryReader): Promise<RobustnessReport> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const report: RobustnessReport = { cases: 0, verdicts: 0, exceptions: [], slowest: { name: "", ms: 0 }, heaviest: { name: "", mb: 0 }, overBudget: [] };
  for (const { name, raw } of hostileInputs()) {
    report.cases++;
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let peak = heapBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
    const started = performance.now();
    try {
      const result = await runPipeline({ envelope: { from: "a@example.net", to: ["alice@example.com"] }, raw }, { directory, dns: null });
      if (["accept", "reject", "quarantine", "tempfail"].includes(result.action)) report.verdicts++;
    } catch (err) {
      report.exceptions.push(`${name}: ${String(err)}`);
    } finally {
      clearInterval(sampler);
    }
    const ms = performance.now() - started;
    const mb = (Math.max(peak, process.memoryUsage().heapUsed) - heapBefore) / 1024 / 1024;
    if (ms > report.slowest.ms) report.slowest = { name, ms };
    if (mb > report.heaviest.mb) report.heaviest = { name, mb };
    if (ms > ROBUSTNESS_MAX_MS || mb > ROBUSTNESS_MAX_HEAP_MB) report.overBudget.push(`${name}: ${ms.toFixed(0)} ms, ${mb.toFixed(1)} MB`);
  }
  return report;
}
