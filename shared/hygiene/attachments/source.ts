import { Inflate } from "fflate";
import { concatBytes } from "./bytes.ts";
import { type Budget, InspectionLimitError } from "./budget.ts";

/**
 * Where a file's bytes come from: memory (a part of the message, a stored archive member) or a
 * compressed stream that is expanded only as far as a check asks for.
 */
export interface Source {
  /** Size in bytes as far as known: exact in memory, what the archive declares otherwise. */
  readonly size: number;
  /** The whole content is already in memory, so reading any of it is free. */
  readonly resident: boolean;
  /** The first `n` bytes, fewer if the file is shorter. */
  head(n: number): Uint8Array;
  /** The whole content. Throws InspectionLimitError when expanding it would exceed the budget. */
  all(): Uint8Array;
}

/** Bytes already in memory. */
export function bytesSource(bytes: Uint8Array): Source {
  return { size: bytes.length, resident: true, head: (n) => bytes.subarray(0, n), all: () => bytes };
}

/** Content computed on first use (a uuencoded block), with a cheaper way to get its start. */
export function derivedSource(size: number, head: (n: number) => Uint8Array, all: () => Uint8Array): Source {
  let whole: Uint8Array | null = null;
  return {
    size,
    resident: false,
    head: (n) => (whole !== null ? whole.subarray(0, n) : head(n)),
    all: () => (whole ??= all()),
  };
}

/** DEFLATE's best case: 258 bytes out of a length/distance pair that can be coded in about two bits. */
const MAX_DEFLATE_RATIO = 1032;
/**
 * Compressed bytes pushed per step, fewest and most, for a head and for a whole member. Each step
 * copies fflate's 32 KiB window, so tiny steps cost more than they save; big ones overshoot.
 */
export const HEAD_STEPS: Steps = { min: 256, max: 1024 };
export const ALL_STEPS: Steps = { min: 4096, max: 64 * 1024 };

/** Below this declared size a whole member is expanded in head-sized steps. */
const SMALL_MEMBER = 1024 * 1024;

export interface Steps {
  min: number;
  max: number;
}

/**
 * A raw DEFLATE stream (a zip member, the body of a gzip file) of declared size `size`. The head is
 * expanded in small steps and the expansion stops as soon as enough bytes are out, so reading
 * the start of a 20 MB member costs what reading the start of a 20 KB one does; every byte produced
 * is charged to the budget.
 */
export function deflateSource(compressed: Uint8Array, size: number, budget: Budget, where: string): Source {
  let whole: Uint8Array | null = null;
  let start: Uint8Array = new Uint8Array(0);
  let startComplete = false;
  return {
    size,
    resident: false,
    head(n) {
      if (whole !== null) return whole.subarray(0, n);
      if (start.length < n && !startComplete) {
        const out = inflateUpTo(compressed, n, HEAD_STEPS, budget, where);
        start = out.bytes;
        startComplete = out.complete;
      }
      return start.subarray(0, n);
    },
    all() {
      if (whole !== null) return whole;
      if (size > budget.limits.maxInflateBytes - budget.work.inflated) {
        throw new InspectionLimitError(where, `needs more than ${budget.limits.maxInflateBytes} bytes decompressed to inspect`);
      }
      // One byte past the declared size tells a member that lies about its size (a bomb in disguise).
      // A member declared small is expanded in small steps too, so one lying about its size stops early.
      const out = inflateUpTo(compressed, size + 1, size < SMALL_MEMBER ? HEAD_STEPS : ALL_STEPS, budget, where);
      if (out.bytes.length > size) throw new InspectionLimitError(where, "expands past the size its archive declares");
      budget.checkRatio(where, out.bytes.length, compressed.length);
      whole = out.bytes;
      return whole;
    },
  };
}

/**
 * Expands `compressed` until `stopAt` bytes are out or the input ends, a step at a time. Throws fflate's error for corrupt data and InspectionLimitError past
 * the budget.
 */
export function inflateUpTo(compressed: Uint8Array, stopAt: number, steps: Steps, budget: Budget, where: string): { bytes: Uint8Array; complete: boolean } {
  const chunks: Uint8Array[] = [];
  let produced = 0;
  const inflater = new Inflate((chunk) => {
    if (chunk.length > 0) chunks.push(chunk);
    produced += chunk.length;
  });
  let consumed = 0;
  while (produced < stopAt && consumed < compressed.length) {
    // Push no more than could yield what is still wanted at DEFLATE's best ratio, so a bomb
    // overshoots the wanted size by at most steps.min × MAX_DEFLATE_RATIO (258 KiB for a head).
    const size = Math.max(steps.min, Math.min(steps.max, Math.ceil((stopAt - produced) / MAX_DEFLATE_RATIO)));
    const end = Math.min(consumed + size, compressed.length);
    const before = produced;
    inflater.push(compressed.subarray(consumed, end), end === compressed.length);
    consumed = end;
    budget.addInflated(produced - before, where);
  }
  // Complete: every input byte went in and nothing was cut off at stopAt.
  return { bytes: concatBytes(chunks, Math.min(produced, stopAt)), complete: consumed >= compressed.length && produced <= stopAt };
}
