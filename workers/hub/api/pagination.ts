import { z } from "@hono/zod-openapi";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "../../../shared/limits.ts";
import { ApiError } from "./errors.ts";

const LIMIT_MESSAGE = `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`;

/** The `limit` query parameter of every list: 1…MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE when absent. */
export const Limit = z.coerce
  .number({ error: LIMIT_MESSAGE })
  .int({ error: LIMIT_MESSAGE })
  .min(1, { error: LIMIT_MESSAGE })
  .max(MAX_PAGE_SIZE, { error: LIMIT_MESSAGE })
  .default(DEFAULT_PAGE_SIZE)
  .openapi({ description: `Items per page, 1 to ${MAX_PAGE_SIZE}.`, example: DEFAULT_PAGE_SIZE });

/** The `cursor` query parameter of every list: the previous page's `nextCursor`, opaque. */
export const Cursor = z.string().optional().openapi({ description: "The `nextCursor` of the previous page; leave out for the first page." });

/** The query of a plain paginated list. */
export const PageQuery = z.object({ limit: Limit, cursor: Cursor });

/** `nextCursor` of a page: null on the last one. */
export const NextCursor = z.string().nullable().openapi({ description: "Pass as `cursor` for the next page; null on the last page." });

/** Reads `limit` (1…MAX_PAGE_SIZE) from a query string. */
export function pageLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_PAGE_SIZE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) throw new ApiError(400, "bad_request", `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  return n;
}

/** Cursors are opaque to clients: base64url of the position to continue from. */
export function encodeCursor(position: number): string {
  return btoa(`p:${position}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string | undefined): number | null {
  if (cursor === undefined || cursor === "") return null;
  let text: string;
  try {
    text = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    throw new ApiError(400, "bad_request", "cursor is not valid");
  }
  const m = /^p:(\d{1,15})$/.exec(text);
  if (m === null) throw new ApiError(400, "bad_request", "cursor is not valid");
  return Number(m[1]);
}

/** Longest text position a string cursor may carry (a domain name or an address, with room to spare). */
const MAX_CURSOR_TEXT = 1024;

/**
 * A text position (a domain name, an address) as an opaque cursor: base64url of `s:` and its UTF-8,
 * so any address survives the round trip.
 *
 * @example
 * decodeStringCursor(encodeStringCursor("alice@example.com")) // "alice@example.com"
 */
export function encodeStringCursor(position: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(`s:${position}`)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The position a string cursor continues after; null for no cursor; 400 for a damaged one. */
export function decodeStringCursor(cursor: string | undefined): string | null {
  if (cursor === undefined || cursor === "") return null;
  let text: string;
  try {
    const binary = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(binary, (ch) => ch.charCodeAt(0)));
  } catch {
    throw new ApiError(400, "bad_request", "cursor is not valid");
  }
  if (!text.startsWith("s:") || text.length > MAX_CURSOR_TEXT + 2) throw new ApiError(400, "bad_request", "cursor is not valid");
  return text.slice(2);
}
