import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "../../../shared/limits.ts";
import { ApiError } from "./errors.ts";

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
