import { type PublicRoute, publicRoute, type Route, routeColumns, routeFromColumns } from "../onward/route.ts";

/** An accepted domain as the admin API shows it. */
export interface DomainRecord {
  name: string;
  createdAt: string;
  /** Recipients whose primary address is in this domain. */
  recipients: number;
  /** Where its mail goes once stored (the webhook secret is never shown). */
  route: PublicRoute;
}

interface DomainRow {
  name: string;
  created_at: string;
  recipients: number;
  route: string | null;
  route_secret: string | null;
}

const SELECT_DOMAIN = `SELECT d.name, d.created_at, d.route, d.route_secret, (SELECT count(*) FROM recipients r WHERE r.domain = d.name) AS recipients FROM domains d`;

function toRecord(row: DomainRow): DomainRecord {
  return { name: row.name, createdAt: row.created_at, recipients: row.recipients, route: publicRoute(routeFromColumns(row.route, row.route_secret)) };
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

/** A domain's route with its secret (for the hub's own use, never for display), or null when the domain is not accepted. */
export async function getDomainRoute(db: D1Database, name: string): Promise<Route | null> {
  const row = await db.prepare("SELECT route, route_secret FROM domains WHERE name = ?").bind(name).first<Pick<DomainRow, "route" | "route_secret">>();
  return row === null ? null : routeFromColumns(row.route, row.route_secret);
}

/** The routes of the given domains that are accepted, by name; one query whatever the count (the list travels as one JSON parameter). */
export async function routesForDomains(db: D1Database, names: string[]): Promise<Map<string, Route>> {
  const { results } = await db
    .prepare("SELECT name, route, route_secret FROM domains WHERE name IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify(names))
    .all<Pick<DomainRow, "name" | "route" | "route_secret">>();
  return new Map(results.map((r) => [r.name, routeFromColumns(r.route, r.route_secret)]));
}

/**
 * Accepts mail for a domain, and sets its route when one is given (without one, an existing
 * domain keeps its route and a new one gets the mailbox). Idempotent: `created` is false when the
 * domain was already accepted, and the stored record is returned either way.
 */
export async function createDomain(db: D1Database, name: string, route?: Route): Promise<{ created: boolean; domain: DomainRecord }> {
  const { json, secret } = routeColumns(route ?? { type: "mailbox" });
  // One batch is one transaction: the record read back is the one this call saw.
  const [inserted, , read] = await db.batch([
    db.prepare("INSERT INTO domains (name, route, route_secret) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING name").bind(name, json, secret),
    db.prepare("UPDATE domains SET route = ?, route_secret = ? WHERE name = ? AND ?").bind(json, secret, name, route === undefined ? 0 : 1),
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
