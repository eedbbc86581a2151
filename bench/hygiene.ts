/**
 * Hygiene figures for `npm run bench`, timed in Node (the same V8 as workerd; inside workerd
 * timers do not advance during pure CPU work):
 *
 * - hygiene.ratioToParse.p50: the whole pipeline's time ÷ a bare PostalMime.parse of the same
 *   message, per message, median over the typical mail (≤ 256 KB) of the training corpus. Both are
 *   timed in a warm process, as in an edge isolate that has handled mail before: the whole
 *   measurement runs once untimed first.
 * - hygiene.micros.p50 / .p99: the pipeline's time per message, microseconds.
 * - hygiene.peakMB.25MiB: how much one 25 MiB message raises a process's peak resident memory
 *   (kernel high-water mark) over a 1 KiB message, raw bytes included — to compare with the
 *   128 MB isolate limit.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import PostalMime from "postal-mime";
import { memoryDirectory } from "../shared/directory/memory.ts";
import { runPipeline } from "../shared/hygiene/pipeline.ts";
import { MAX_MESSAGE_BYTES } from "../shared/limits.ts";
import { corpusFiles, readBytes } from "../scripts/eval/corpus.ts";

/** Typical mail, per the hygiene target. */
const TYPICAL_BYTES = 256 * 1024;
/** Runs per message; the fastest is kept, so a noisy neighbour does not count. */
const RUNS = 5;

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

async function fastest(runs: number, fn: () => Promise<unknown>): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

/** Peak memory of a child process that runs one message of `bytes` through the pipeline (or only parses it). */
function childPeak(bytes: number, options: { parseOnly?: boolean; heapCapMB?: number } = {}): { bytes: number; action: string; maxRssKiB: number } | null {
  const args = [
    ...(options.heapCapMB === undefined ? [] : [`--max-old-space-size=${options.heapCapMB}`]),
    path.join(import.meta.dirname, "peak-memory.ts"),
    String(bytes),
    options.parseOnly ? "parse" : "pipeline",
  ];
  try {
    const out = execFileSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return JSON.parse(out.trim().split("\n").pop()!) as { bytes: number; action: string; maxRssKiB: number };
  } catch {
    return null; // ran out of heap
  }
}

/** Smallest V8 heap caps tried for the 25 MiB message, smallest first. */
const HEAP_CAPS_MB = [32, 48, 64, 96, 128];

export async function hygieneFigures(log: (line: string) => void): Promise<Record<string, number>> {
  // 1,000 recipients, each message to the next: the isolate's hash cache sees a realistic mix.
  const recipients = Array.from({ length: 1000 }, (_, i) => `user${i}@example.com`);
  const directory = await memoryDirectory({ domains: ["example.com"], recipients });
  const files = [...(await corpusFiles("spam-train/ham", [""])), ...(await corpusFiles("spam-train/spam", [""]))];
  const messages: Uint8Array[] = [];
  for (const f of files) {
    const raw = await readBytes(f);
    if (raw.byteLength <= TYPICAL_BYTES) messages.push(raw);
  }
  const parse = (raw: Uint8Array) => () => PostalMime.parse(raw);
  const pipeline = (raw: Uint8Array, i: number) => () =>
    runPipeline({ envelope: { from: "sender@example.net", to: [recipients[i % recipients.length]!] }, raw }, { directory, dns: null });
  // An edge isolate handles one message after another, and by the time its code is optimised it
  // has seen many; timing the first messages of a fresh process instead would measure how soon
  // the compiler gets to the pipeline's code (which the parse reaches twice as fast, being called
  // by the pipeline too). So the measurement runs once untimed first, over the whole corpus.
  for (const [i, raw] of messages.entries()) {
    await fastest(RUNS, parse(raw));
    await fastest(RUNS, pipeline(raw, i));
  }
  const ratios: number[] = [];
  const micros: number[] = [];
  for (const [i, raw] of messages.entries()) {
    // Each timed in a run of its own, as the edge runs the pipeline after the pipeline: taken in
    // turn, every pipeline run would start with the caches full of a bare parse's data instead.
    const parseMs = await fastest(RUNS, parse(raw));
    const pipelineMs = await fastest(RUNS, pipeline(raw, i));
    ratios.push(pipelineMs / parseMs);
    micros.push(pipelineMs * 1000);
  }
  ratios.sort((a, b) => a - b);
  micros.sort((a, b) => a - b);
  log(
    `pipeline vs parse over ${messages.length} messages ≤ 256 KB: ratio p50 ${percentile(ratios, 50).toFixed(2)}, ${percentile(micros, 50).toFixed(0)} µs p50, ${percentile(micros, 99).toFixed(0)} µs p99`,
  );

  const rise = (parseOnly: boolean): number => (childPeak(MAX_MESSAGE_BYTES, { parseOnly })!.maxRssKiB - childPeak(1024, { parseOnly })!.maxRssKiB) / 1024;
  const peakMB = rise(false);
  const parseMB = rise(true);
  const heapCapMB = HEAP_CAPS_MB.find((cap) => childPeak(MAX_MESSAGE_BYTES, { heapCapMB: cap }) !== null) ?? -1;
  log(
    `a 25 MiB message raised peak resident memory by ${peakMB.toFixed(1)} MB through the pipeline, ${parseMB.toFixed(1)} MB through a bare parse (raw bytes included; uncollected garbage counts until the collector runs); the pipeline completes with the V8 heap capped at ${heapCapMB} MB`,
  );
  return {
    "hygiene.ratioToParse.p50": percentile(ratios, 50),
    "hygiene.micros.p50": percentile(micros, 50),
    "hygiene.micros.p99": percentile(micros, 99),
    "hygiene.peakMB.25MiB": peakMB,
    "hygiene.peakMB.25MiB.bareParse": parseMB,
    "hygiene.heapCapMB.25MiB": heapCapMB,
    "hygiene.messages": messages.length,
  };
}
