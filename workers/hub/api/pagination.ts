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
