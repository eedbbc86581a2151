import type { Io } from "./output.ts";
import { UsageError } from "./output.ts";

/** A count with thousands separators: 250,000. */
export function count(n: unknown): string {
  return typeof n === "number" ? n.toLocaleString("en-US") : "-";
}

/** An ISO timestamp as `2026-11-21 08:01:40Z` (UTC, to the second); "-" for none. */
export function when(iso: unknown): string {
  if (typeof iso !== "string" && typeof iso !== "number") return "-";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return typeof iso === "string" ? iso : "-";
  return `${d.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

/** How long ago (or from now) a timestamp is: `42s ago`, `3h ago`, `in 5m`; "-" for none. */
export function ago(iso: unknown, now = Date.now()): string {
  if (typeof iso !== "string" && typeof iso !== "number") return "-";
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return "-";
  const s = Math.round((now - t) / 1000);
  const abs = Math.abs(s);
  const text = abs < 60 ? `${abs}s` : abs < 3600 ? `${Math.floor(abs / 60)}m` : abs < 172_800 ? `${Math.floor(abs / 3600)}h` : `${Math.floor(abs / 86_400)}d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

/** A size in bytes as `812 B`, `4.2 KB`, `12.3 MB`. */
export function bytes(n: unknown): string {
  if (typeof n !== "number") return "-";
  if (n < 1000) return `${n} B`;
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)} KB`;
  if (n < 1_000_000_000) return `${(n / 1_000_000).toFixed(1)} MB`;
  return `${(n / 1_000_000_000).toFixed(1)} GB`;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * A point in time given as an ISO date/time (`2026-11-20`, `2026-11-20T08:00:00Z`) or as a duration
 * before now (`90s`, `15m`, `2h`, `3d`, `1w`; after now for `direction: "after"`), as the ISO
 * timestamp the API takes.
 */
export function pointInTime(raw: string, flag: string, now = Date.now(), direction: "before" | "after" = "before"): string {
  const relative = /^(\d{1,6})([smhdw])$/.exec(raw.trim());
  if (relative !== null) {
    const ms = Number(relative[1]) * UNIT_SECONDS[relative[2]!]! * 1000;
    return new Date(direction === "before" ? now - ms : now + ms).toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(raw)) {
    const t = new Date(raw);
    if (!Number.isNaN(t.getTime())) return t.toISOString();
  }
  throw new UsageError(`${flag} "${raw}": give an ISO date/time (2026-11-20T08:00:00Z) or a duration ${direction} now (30m, 2h, 7d)`);
}

/**
 * A list printed as one JSON document while its pages arrive: `{"items":[` … `]}` with one item per
 * line, so a long list streams and the whole output still parses as JSON.
 */
export class JsonListWriter {
  readonly #io: Io;
  #pending: unknown = undefined;
  #started = false;

  constructor(io: Io) {
    this.#io = io;
  }

  add(items: unknown[]): void {
    for (const item of items) {
      if (!this.#started) {
        this.#io.out('{"items":[');
        this.#started = true;
      } else this.#io.out(`${JSON.stringify(this.#pending)},`);
      this.#pending = item;
    }
  }

  /** Closes the document; `extra` fields follow `items`. */
  end(extra: Record<string, unknown> = {}): void {
    const tail = Object.keys(extra).length === 0 ? "" : `,${JSON.stringify(extra).slice(1, -1)}`;
    if (!this.#started) this.#io.out(`{"items":[]${tail}}`);
    else this.#io.out(`${JSON.stringify(this.#pending)}]${tail}}`);
  }
}
