import { TOKEN_RANDOM_BYTES } from "./limits.ts";
import type { Role } from "./roles.ts";

/** Every API token starts with this, so a leaked one is recognisable (secret scanners, logs). */
export const TOKEN_PREFIX = "pc_";

/** The id (and name) of the ADMIN_TOKEN secret as a token: always valid, always admin. */
export const BOOTSTRAP_ID = "bootstrap";

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A new API token: `pc_` and 32 random bytes, base64url.
 *
 * @example
 * newToken() // "pc_q3N0…" (46 characters)
 */
export function newToken(): string {
  return TOKEN_PREFIX + base64url(crypto.getRandomValues(new Uint8Array(TOKEN_RANDOM_BYTES)));
}

/** What D1 keeps of a token: the hex SHA-256 of its UTF-8 text. */
export async function tokenHash(token: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", encoder.encode(token)));
}

/**
 * Constant-time comparison of two secrets: both sides are hashed first, so neither their content
 * nor their length leaks through timing.
 */
export async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([crypto.subtle.digest("SHA-256", encoder.encode(given)), crypto.subtle.digest("SHA-256", encoder.encode(expected))]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** A token as the API shows it: never the token, never its hash. */
export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  /** The ADMIN_TOKEN secret: cannot be revoked here (rotate the secret instead). */
  bootstrap: boolean;
  createdAt: string;
  createdBy: string | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revoked: boolean;
  revokedAt: string | null;
  revokedBy: string | null;
}

interface TokenRow {
  rowid: number;
  id: string;
  name: string;
  role: Role;
  token_hash: string | null;
  created_at: string;
  created_by: string | null;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
}

/** A stored token found by its hash, with what authentication needs. */
export interface StoredToken {
  record: TokenRecord;
  hash: string;
}

const COLUMNS = "rowid, id, name, role, token_hash, created_at, created_by, expires_at, last_used_at, revoked_at, revoked_by";

function toRecord(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    bootstrap: row.id === BOOTSTRAP_ID,
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revoked: row.revoked_at !== null,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
  };
}

export interface NewToken {
  name: string;
  role: Role;
  expiresAt: string | null;
  createdBy: string;
}

/** Stores a new token (its hash only) and returns its record and the token, which is never seen again. */
export async function createToken(db: D1Database, input: NewToken): Promise<{ record: TokenRecord; token: string }> {
  const token = newToken();
  const id = crypto.randomUUID();
  const row = await db
    .prepare(`INSERT INTO api_tokens (id, name, role, token_hash, expires_at, created_by) VALUES (?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`)
    .bind(id, input.name, input.role, await tokenHash(token), input.expiresAt, input.createdBy)
    .first<TokenRow>();
  return { record: toRecord(row!), token };
}

/** The token whose hash this is, revoked and expired ones included (the caller tells them apart). */
export async function findTokenByHash(db: D1Database, hash: string): Promise<StoredToken | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE token_hash = ?`).bind(hash).first<TokenRow>();
  return row === null || row.token_hash === null ? null : { record: toRecord(row), hash: row.token_hash };
}

export async function getToken(db: D1Database, id: string): Promise<TokenRecord | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE id = ?`).bind(id).first<TokenRow>();
  return row === null ? null : toRecord(row);
}

/** Tokens in the order they were created, `limit` after position `after`; with the position to continue from. */
export async function listTokens(db: D1Database, limit: number, after: number | null): Promise<{ items: TokenRecord[]; last: number | null }> {
  const { results } = await db
    .prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE rowid > ? ORDER BY rowid LIMIT ?`)
    .bind(after ?? 0, limit)
    .all<TokenRow>();
  return { items: results.map(toRecord), last: results.at(-1)?.rowid ?? null };
}

/** Revokes a token (a no-op for one already revoked); null when there is no such token. */
export async function revokeToken(db: D1Database, id: string, by: string, now: string): Promise<TokenRecord | null> {
  await db.prepare("UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL").bind(now, by, id).run();
  return getToken(db, id);
}

/** Sets a token's last-used time, unless it was set after `unlessAfter` (another request got there first). */
export async function touchToken(db: D1Database, id: string, now: string, unlessAfter: string): Promise<void> {
  await db.prepare("UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)").bind(now, id, unlessAfter).run();
}
