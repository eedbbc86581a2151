import { D1_MAX_BOUND_PARAMETERS } from "../../../shared/limits.ts";

/** `items` in consecutive slices of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Statements over `values` split into IN lists D1 accepts: `sql` gets the `?, ?, …` to put in its list. */
export function inLists(db: D1Database, sql: (list: string) => string, values: readonly string[]): D1PreparedStatement[] {
  return chunks(values, D1_MAX_BOUND_PARAMETERS).map((part) => db.prepare(sql(Array<string>(part.length).fill("?").join(", "))).bind(...part));
}

/**
 * Multi-row statements: `tuple` is one row's `(?, …)`, repeated in each statement as often as D1's
 * parameter cap allows; `sql` gets the joined tuples.
 */
export function multiRow<T>(
  db: D1Database,
  rows: readonly T[],
  tuple: string,
  sql: (values: string) => string,
  bind: (row: T) => unknown[],
): D1PreparedStatement[] {
  const width = tuple.split("?").length - 1;
  return chunks(rows, Math.floor(D1_MAX_BOUND_PARAMETERS / width)).map((part) =>
    db.prepare(sql(Array<string>(part.length).fill(tuple).join(", "))).bind(...part.flatMap(bind)),
  );
}

/** `(?, ?, …)` for a row of `width` values. */
export const tupleOf = (width: number): string => `(${Array<string>(width).fill("?").join(", ")})`;
