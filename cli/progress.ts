import { bytes, count } from "./format.ts";
import type { Io } from "./output.ts";

/**
 * How often the bar is redrawn: often enough to look alive (and to count the seconds while the hub
 * works through a chunk it has already taken), rarely enough to cost nothing.
 */
const REDRAW_INTERVAL_MS = 200;
/** Width of the bar itself, in characters. */
const BAR_WIDTH = 24;

export interface ProgressState {
  bytesDone: number;
  rows: number;
  /** What is happening now; the seconds it has been going on are shown after it. */
  label: string;
}

/**
 * Progress of a long job on stderr: a bar redrawn in place on a terminal, a plain line per step
 * when stderr is a file or a pipe (a log keeps every line), nothing in `--json` mode.
 */
export class Progress {
  readonly #io: Io;
  readonly #mode: "bar" | "lines" | "none";
  readonly #total: number;
  #state: ProgressState | null = null;
  #labelSince = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #drawn = false;

  constructor(io: Io, options: { json: boolean; totalBytes: number }) {
    this.#io = io;
    this.#mode = options.json ? "none" : io.tty?.err === true && io.errRaw !== undefined ? "bar" : "lines";
    this.#total = options.totalBytes;
  }

  /** A line (a step done): in every mode but `--json`; on a terminal above the bar, which is redrawn under it. */
  note(line: string): void {
    if (this.#mode === "none") return;
    this.#clear();
    this.#io.err(line);
    this.#draw();
  }

  /** Where the job is now; the bar shows it at the next redraw. Lines mode waits for the next note. */
  update(state: ProgressState): void {
    if (this.#mode !== "bar") return;
    if (state.label !== this.#state?.label) this.#labelSince = Date.now();
    this.#state = state;
    if (this.#timer === undefined) {
      this.#draw();
      this.#timer = setInterval(() => this.#draw(), REDRAW_INTERVAL_MS);
      // The bar never keeps the process alive.
      this.#timer.unref();
    }
  }

  #draw(): void {
    const state = this.#state;
    if (this.#mode !== "bar" || state === null) return;
    const fraction = this.#total > 0 ? Math.min(1, state.bytesDone / this.#total) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = `${"█".repeat(filled)}${"░".repeat(BAR_WIDTH - filled)}`;
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
    const seconds = Math.floor((Date.now() - this.#labelSince) / 1000);
    const label = state.label === "" ? "" : `  ${state.label}${seconds > 0 ? ` ${seconds}s` : ""}`;
    this.#io.errRaw!(`\r\x1b[2K${bar} ${percent}  ${count(state.rows)} rows  ${bytes(state.bytesDone)}/${bytes(this.#total)}${label}`);
    this.#drawn = true;
  }

  #clear(): void {
    if (this.#drawn) this.#io.errRaw!("\r\x1b[2K");
    this.#drawn = false;
  }

  /** Removes the bar for good; the summary follows on stdout. */
  done(): void {
    clearInterval(this.#timer);
    this.#clear();
    this.#state = null;
  }
}
