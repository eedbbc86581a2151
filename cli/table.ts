import type { Io } from "./output.ts";

/** A terminal style; applied only when colours are on. */
export type Style = "bold" | "dim" | "green" | "yellow" | "red";

const SGR: Record<Style, string> = { bold: "1", dim: "2", green: "32", yellow: "33", red: "31" };

/** Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function colourEnabled(io: Io, env: NodeJS.ProcessEnv = process.env): boolean {
  return io.tty?.out === true && (env.NO_COLOR === undefined || env.NO_COLOR === "") && env.TERM !== "dumb";
}

export function paint(text: string, style: Style | undefined, colour: boolean): string {
  return colour && style !== undefined ? `\x1b[${SGR[style]}m${text}\x1b[0m` : text;
}

/**
 * Text from the hub made safe for a terminal: control characters (an escape sequence in a spammer's
 * subject line, a line break in a header) are shown as `?` instead of acting on the terminal.
 */
export function clean(value: unknown): string {
  if (value === null || value === undefined || value === "") return "-";
  const text = typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
}

function truncate(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  return width <= 1 ? chars.slice(0, width).join("") : `${chars.slice(0, width - 1).join("")}…`;
}

const length = (text: string): number => [...text].length;

export interface Column<T> {
  header: string;
  value(row: T): unknown;
  align?: "left" | "right";
  /** Widest the column grows; longer values are cut with `…`. */
  max?: number;
  /** Whether the column gives up width when the table is wider than the terminal. */
  shrink?: boolean;
  style?(row: T): Style | undefined;
}

/** Narrowest a shrinking column becomes to fit the terminal. */
const MIN_SHRUNK_WIDTH = 8;
const GAP = "  ";

/**
 * A table printed as its rows come: the column widths are set by the first rows (a page of a long
 * list) and kept for the rest, so a 250,000-row list streams instead of waiting for the last page.
 */
export class TableWriter<T> {
  readonly #columns: Column<T>[];
  readonly #io: Io;
  readonly #colour: boolean;
  #widths: number[] | null = null;
  #rows = 0;

  constructor(io: Io, columns: Column<T>[]) {
    this.#io = io;
    this.#columns = columns;
    this.#colour = colourEnabled(io);
  }

  get rows(): number {
    return this.#rows;
  }

  #layout(rows: T[]): number[] {
    const widths = this.#columns.map((c) => Math.min(c.max ?? Infinity, Math.max(length(c.header), ...rows.map((r) => length(clean(c.value(r)))))));
    const columns = this.#io.tty?.out === true ? this.#io.tty.columns : undefined;
    if (columns !== undefined && columns > 0) {
      let excess = widths.reduce((a, b) => a + b, 0) + GAP.length * (widths.length - 1) - columns;
      while (excess > 0) {
        let widest = -1;
        this.#columns.forEach((c, i) => {
          if (c.shrink === true && widths[i]! > MIN_SHRUNK_WIDTH && (widest === -1 || widths[i]! > widths[widest]!)) widest = i;
        });
        if (widest === -1) break;
        const cut = Math.min(excess, widths[widest]! - MIN_SHRUNK_WIDTH);
        widths[widest] = widths[widest]! - cut;
        excess -= cut;
      }
    }
    return widths;
  }

  #line(cells: string[], styles: (Style | undefined)[], aligns: ("left" | "right")[]): string {
    const widths = this.#widths!;
    const parts = cells.map((cell, i) => {
      const text = truncate(cell, widths[i]!);
      const pad = " ".repeat(widths[i]! - length(text));
      const painted = paint(text, styles[i], this.#colour);
      // The last column is not padded: no trailing spaces on a line.
      if (i === cells.length - 1 && aligns[i] !== "right") return painted;
      return aligns[i] === "right" ? pad + painted : painted + pad;
    });
    return parts.join(GAP);
  }

  add(rows: T[]): void {
    if (rows.length === 0) return;
    const aligns = this.#columns.map((c) => c.align ?? "left");
    if (this.#widths === null) {
      this.#widths = this.#layout(rows);
      this.#io.out(
        this.#line(
          this.#columns.map((c) => c.header),
          this.#columns.map(() => "bold"),
          aligns,
        ),
      );
    }
    for (const row of rows) {
      this.#io.out(
        this.#line(
          this.#columns.map((c) => clean(c.value(row))),
          this.#columns.map((c) => c.style?.(row)),
          aligns,
        ),
      );
    }
    this.#rows += rows.length;
  }

  /** Ends the table; with no rows at all, prints `empty` instead. */
  end(empty: string): void {
    if (this.#rows === 0) this.#io.out(empty);
  }
}

/** A whole table at once. */
export function printTable<T>(io: Io, columns: Column<T>[], rows: T[], empty: string): void {
  const table = new TableWriter(io, columns);
  table.add(rows);
  table.end(empty);
}

/** One record as `key  value` lines, keys aligned; nested values as JSON. */
export function printRecord(io: Io, fields: [string, unknown][]): void {
  const width = Math.max(...fields.map(([k]) => k.length));
  const colour = colourEnabled(io);
  for (const [key, value] of fields) io.out(`${paint(key.padEnd(width), "bold", colour)}  ${clean(value)}`);
}
