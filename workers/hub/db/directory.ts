import type { Entry } from "../../../shared/directory/entry.ts";
import { entryFor } from "../../../shared/directory/entry.ts";

/** Rows read per query when streaming the directory, well inside D1's per-query limits. */
export const PAGE_ROWS = 10_000;

/** D1 allows at most 100 bound parameters in one statement. */
const MAX_PARAMS = 100;

/** D1 returns BLOB columns as arrays of numbers (or ArrayBuffers): normalise to bytes. */
export function blobBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (Array.isArray(value)) return Uint8Array.from(value as number[]);
  throw new Error("expected a BLOB column");
}

interface EntryRow {
  hash: unknown;
  reject_internet: number;
  scl_override: number | null;
}

const toEntry = (r: EntryRow): Entry => entryFor(blobBytes(r.hash), { rejectInternet: r.reject_internet === 1, sclOverride: r.scl_override });

const ENTRY_SELECT = `SELECT ra.hash AS hash, r.reject_internet AS reject_internet, r.scl_override AS scl_override
  FROM recipient_addresses ra JOIN recipients r ON r.address = ra.recipient`;

/** The newest change sequence number (0 when nothing was ever changed). */
export async function latestChangeSeq(db: D1Database): Promise<number> {
  return (await db.prepare("SELECT COALESCE(MAX(seq), 0) AS seq FROM directory_changes").first<{ seq: number }>())?.seq ?? 0;
}

export async function countAddresses(db: D1Database): Promise<number> {
  return (await db.prepare("SELECT COUNT(*) AS n FROM recipient_addresses").first<{ n: number }>())?.n ?? 0;
}

/** Every address entry, ascending by hash, a page at a time (keyset pagination on the hash index). */
export async function* entriesByHash(db: D1Database): AsyncGenerator<Entry[]> {
  let after: Uint8Array = new Uint8Array(0);
  for (;;) {
    const { results } = await db.prepare(`${ENTRY_SELECT} WHERE ra.hash > ? ORDER BY ra.hash LIMIT ?`).bind(after, PAGE_ROWS).all<EntryRow>();
    if (results.length === 0) return;
    const page = results.map(toEntry);
    yield page;
    if (results.length < PAGE_ROWS) return;
    after = page[page.length - 1]!.hash;
  }
}

/** Distinct address hashes changed after `seq`, at most `limit` (callers pass limit + 1 to detect overflow). */
export async function changedHashesSince(db: D1Database, seq: number, limit: number): Promise<Uint8Array[]> {
  const { results } = await db
    .prepare("SELECT DISTINCT hash FROM directory_changes WHERE seq > ? AND kind = 'address' AND hash IS NOT NULL LIMIT ?")
    .bind(seq, limit)
    .all<{ hash: unknown }>();
  return results.map((r) => blobBytes(r.hash));
}

/** Current entries for some hashes (absent ones are simply not returned). */
export async function entriesForHashes(db: D1Database, hashes: Uint8Array[]): Promise<Entry[]> {
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < hashes.length; i += MAX_PARAMS) {
    const chunk = hashes.slice(i, i + MAX_PARAMS);
    statements.push(db.prepare(`${ENTRY_SELECT} WHERE ra.hash IN (${chunk.map(() => "?").join(",")})`).bind(...chunk));
  }
  if (statements.length === 0) return [];
  const results = await db.batch<EntryRow>(statements);
  return results.flatMap((r) => r.results.map(toEntry));
}

export async function listDomainNames(db: D1Database): Promise<string[]> {
  return (await db.prepare("SELECT name FROM domains ORDER BY name").all<{ name: string }>()).results.map((r) => r.name);
}

export async function listPolicies(db: D1Database): Promise<Record<string, unknown>> {
  const { results } = await db.prepare("SELECT name, body FROM policies ORDER BY name").all<{ name: string; body: string }>();
  return Object.fromEntries(results.map((r) => [r.name, JSON.parse(r.body) as unknown]));
}

/** Recipients that have no address row yet (rows written before addresses were hashed at write time). */
export async function recipientsWithoutAddresses(db: D1Database, limit: number): Promise<{ address: string; domain: string }[]> {
  const { results } = await db
    .prepare("SELECT r.address, r.domain FROM recipients r WHERE NOT EXISTS (SELECT 1 FROM recipient_addresses ra WHERE ra.recipient = r.address) LIMIT ?")
    .bind(limit)
    .all<{ address: string; domain: string }>();
  return results;
}

export async function insertAddressRows(db: D1Database, rows: { address: string; recipient: string; domain: string; hash: Uint8Array }[]): Promise<void> {
  const perStatement = Math.floor(MAX_PARAMS / 4);
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    statements.push(
      db
        .prepare(`INSERT OR IGNORE INTO recipient_addresses (address, recipient, domain, hash) VALUES ${chunk.map(() => "(?, ?, ?, ?)").join(", ")}`)
        .bind(...chunk.flatMap((r) => [r.address, r.recipient, r.domain, r.hash])),
    );
  }
  if (statements.length > 0) await db.batch(statements);
}
