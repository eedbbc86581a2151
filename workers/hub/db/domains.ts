/** An accepted domain as the admin API shows it. */
export interface DomainRecord {
  name: string;
  createdAt: string;
  /** Recipients whose primary address is in this domain. */
  recipients: number;
}

interface DomainRow {
  name: string;
  created_at: string;
  recipients: number;
}

const SELECT_DOMAIN = `SELECT d.name, d.created_at, (SELECT count(*) FROM recipients r WHERE r.domain = d.name) AS recipients FROM domains d`;

function toRecord(row: DomainRow): DomainRecord {
  return { name: row.name, createdAt: row.created_at, recipients: row.recipients };
}

/** Accepted domains in name order, starting after `after` (cursor pagination). */
export async function listDomains(db: D1Database, limit: number, after: string | null): Promise<DomainRecord[]> {
  const { results } = await db
    .prepare(`${SELECT_DOMAIN} WHERE d.name > ? ORDER BY d.name LIMIT ?`)
    .bind(after ?? "", limit)
    .all<DomainRow>();
  return results.map(toRecord);
}

/** One accepted domain by its normalised name, or null. */
export async function getDomain(db: D1Database, name: string): Promise<DomainRecord | null> {
  const row = await db.prepare(`${SELECT_DOMAIN} WHERE d.name = ?`).bind(name).first<DomainRow>();
  return row === null ? null : toRecord(row);
}

/**
 * Accepts mail for a domain. Idempotent: `created` is false when the domain was already accepted,
 * and the stored record is returned either way.
 */
export async function createDomain(db: D1Database, name: string): Promise<{ created: boolean; domain: DomainRecord }> {
  // One batch is one transaction: the record read back is the one this call saw.
  const [inserted, read] = await db.batch([
    db.prepare("INSERT INTO domains (name) VALUES (?) ON CONFLICT (name) DO NOTHING RETURNING name").bind(name),
    db.prepare(`${SELECT_DOMAIN} WHERE d.name = ?`).bind(name),
  ]);
  const row = read?.results[0] as DomainRow | undefined;
  if (row === undefined) throw new Error("domain row missing right after its insert");
  return { created: (inserted?.results.length ?? 0) > 0, domain: toRecord(row) };
}

/**
 * Stops accepting mail for a domain. Its recipients and every address in it go with it (foreign
 * keys cascade). Returns false when the domain was not accepted.
 */
export async function deleteDomain(db: D1Database, name: string): Promise<boolean> {
  const row = await db.prepare("DELETE FROM domains WHERE name = ? RETURNING name").bind(name).first<{ name: string }>();
  return row !== null;
}
