import { domainOf } from "../../../shared/directory/address.ts";
import { inLists, multiRow } from "./statements.ts";

/** A recipient as the admin API shows it. */
export interface RecipientRecord {
  address: string;
  domain: string;
  /** Other addresses that deliver to this recipient, in order. */
  aliases: string[];
  rejectInternet: boolean;
  sclOverride: number | null;
  createdAt: string;
  updatedAt: string | null;
}

interface RecipientRow {
  address: string;
  domain: string;
  aliases: string;
  reject_internet: number;
  scl_override: number | null;
  created_at: string;
  updated_at: string | null;
}

const SELECT_RECIPIENT = `SELECT r.address, r.domain, r.reject_internet, r.scl_override, r.created_at, r.updated_at,
  (SELECT json_group_array(address) FROM (SELECT a.address FROM recipient_addresses a WHERE a.recipient = r.address AND a.address <> r.address ORDER BY a.address)) AS aliases
  FROM recipients r`;

function toRecord(row: RecipientRow): RecipientRecord {
  return {
    address: row.address,
    domain: row.domain,
    aliases: JSON.parse(row.aliases) as string[],
    rejectInternet: row.reject_internet === 1,
    sclOverride: row.scl_override,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Recipients in address order after `after` (cursor pagination), optionally in one domain only. */
export async function listRecipients(db: D1Database, limit: number, after: string | null, domain: string | null): Promise<RecipientRecord[]> {
  const stmt =
    domain === null
      ? db.prepare(`${SELECT_RECIPIENT} WHERE r.address > ? ORDER BY r.address LIMIT ?`).bind(after ?? "", limit)
      : db.prepare(`${SELECT_RECIPIENT} WHERE r.domain = ? AND r.address > ? ORDER BY r.address LIMIT ?`).bind(domain, after ?? "", limit);
  const { results } = await stmt.all<RecipientRow>();
  return results.map(toRecord);
}

/** The recipient a normalised address delivers to, whether it is the primary address or an alias; null when none. */
export async function findRecipient(db: D1Database, address: string): Promise<RecipientRecord | null> {
  const row = await db
    .prepare(
      `${SELECT_RECIPIENT} WHERE r.address = ? OR r.address = (SELECT recipient FROM recipient_addresses WHERE address = ?) ORDER BY r.address = ? DESC LIMIT 1`,
    )
    .bind(address, address, address)
    .first<RecipientRow>();
  return row === null ? null : toRecord(row);
}

/** Deletes a recipient by its primary address, with all its addresses (they cascade). False when unknown. */
export async function deleteRecipient(db: D1Database, address: string): Promise<boolean> {
  const row = await db.prepare("DELETE FROM recipients WHERE address = ? RETURNING address").bind(address).first<{ address: string }>();
  return row !== null;
}

/** One row of an import, normalised; a field left undefined keeps its stored value (or the default for a new recipient). */
export interface RecipientUpsert {
  /** 1-based data row, for error reports. */
  row: number;
  address: string;
  /** The complete alias set (normalised, without duplicates or the address itself). */
  aliases?: string[];
  rejectInternet?: boolean;
  sclOverride?: number | null;
}

/** A row an import could not apply, and why. */
export interface RowError {
  row: number;
  address: string;
  error: string;
}

/** What applying one batch did. */
export interface BatchOutcome {
  created: number;
  updated: number;
  unchanged: number;
  errors: RowError[];
}

/** A concurrent change (a domain deleted, an address taken) made a batch's writes fail; nothing of that batch was written. */
export class ImportConflictError extends Error {
  override readonly name = "ImportConflictError";
}

/** Hashes a normalised address as the directory snapshot does (16 bytes). */
export type AddressHasher = (address: string) => Promise<Uint8Array>;

interface Flags {
  rejectInternet: boolean;
  sclOverride: number | null;
}

/** What D1 holds about the addresses of one batch. */
interface Stored {
  recipients: Map<string, Flags>;
  /** address → the recipient it delivers to */
  owners: Map<string, string>;
  /** recipient → its aliases */
  aliases: Map<string, Set<string>>;
}

/** The writes a batch needs, in the order they run. */
interface Plan {
  removedAddresses: string[];
  newRecipients: (Flags & { address: string })[];
  flagChanges: (Flags & { address: string })[];
  /** Recipients changed only in their aliases: just `updated_at`. */
  touched: string[];
  newAddresses: { address: string; recipient: string }[];
}

const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/**
 * Upserts recipients in batches: one D1 round trip reads what the batch touches, one batch of
 * multi-row statements (a single transaction) writes only what changed. Accepted domains are
 * remembered across batches of the same import.
 */
export class RecipientImporter {
  readonly #db: D1Database;
  readonly #hash: AddressHasher;
  readonly #accepted = new Map<string, boolean>();

  constructor(db: D1Database, hash: AddressHasher) {
    this.#db = db;
    this.#hash = hash;
  }

  /** Applies a batch whose primary addresses are distinct. Throws ImportConflictError when a concurrent change defeated its writes. */
  async apply(rows: readonly RecipientUpsert[]): Promise<BatchOutcome> {
    const outcome: BatchOutcome = { created: 0, updated: 0, unchanged: 0, errors: [] };
    if (rows.length === 0) return outcome;
    const stored = await this.#read(rows);
    const plan: Plan = { removedAddresses: [], newRecipients: [], flagChanges: [], touched: [], newAddresses: [] };
    for (const row of rows) {
      const error = this.#check(row, stored);
      if (error !== null) outcome.errors.push({ row: row.row, address: row.address, error });
      else outcome[planRow(row, stored, plan)]++;
    }
    await this.#write(plan);
    return outcome;
  }

  async #read(rows: readonly RecipientUpsert[]): Promise<Stored> {
    const db = this.#db;
    const primaries = rows.map((r) => r.address);
    const addresses = [...new Set([...primaries, ...rows.flatMap((r) => r.aliases ?? [])])];
    const unknownDomains = [...new Set(addresses.map(domainOf))].filter((d) => !this.#accepted.has(d));
    const groups = [
      inLists(db, (l) => `SELECT name FROM domains WHERE name IN (${l})`, unknownDomains),
      inLists(db, (l) => `SELECT address, reject_internet, scl_override FROM recipients WHERE address IN (${l})`, addresses),
      inLists(db, (l) => `SELECT address, recipient FROM recipient_addresses WHERE address IN (${l})`, addresses),
      inLists(db, (l) => `SELECT address, recipient FROM recipient_addresses WHERE recipient IN (${l}) AND address <> recipient`, primaries),
    ];
    const results = await db.batch(groups.flat());
    let next = 0;
    const rowsOf = <T>(group: number): T[] => groups[group]!.flatMap(() => results[next++]!.results as T[]);

    for (const d of unknownDomains) this.#accepted.set(d, false);
    for (const { name } of rowsOf<{ name: string }>(0)) this.#accepted.set(name, true);
    const stored: Stored = { recipients: new Map(), owners: new Map(), aliases: new Map() };
    for (const r of rowsOf<{ address: string; reject_internet: number; scl_override: number | null }>(1)) {
      stored.recipients.set(r.address, { rejectInternet: r.reject_internet === 1, sclOverride: r.scl_override });
    }
    for (const a of rowsOf<{ address: string; recipient: string }>(2)) stored.owners.set(a.address, a.recipient);
    for (const a of rowsOf<{ address: string; recipient: string }>(3)) {
      stored.owners.set(a.address, a.recipient);
      const set = stored.aliases.get(a.recipient) ?? new Set<string>();
      set.add(a.address);
      stored.aliases.set(a.recipient, set);
    }
    return stored;
  }

  /** Why a row cannot be applied given what is stored and what earlier rows of the batch did, or null. */
  #check(row: RecipientUpsert, stored: Stored): string | null {
    const domain = domainOf(row.address);
    if (this.#accepted.get(domain) !== true) return `domain ${domain} is not an accepted domain`;
    const owner = stored.owners.get(row.address);
    if (owner !== undefined && owner !== row.address) return `${row.address} is an alias of ${owner}`;
    for (const alias of row.aliases ?? []) {
      if (this.#accepted.get(domainOf(alias)) !== true) return `alias ${alias} is not in an accepted domain`;
      const aliasOwner = stored.owners.get(alias) ?? (stored.recipients.has(alias) ? alias : undefined);
      if (aliasOwner !== undefined && aliasOwner !== row.address) return `alias ${alias} belongs to ${aliasOwner}`;
    }
    return null;
  }

  async #write(plan: Plan): Promise<void> {
    const db = this.#db;
    const hashes = await Promise.all(plan.newAddresses.map((a) => this.#hash(a.address)));
    const newAddresses = plan.newAddresses.map((a, i) => [a.address, a.recipient, domainOf(a.address), hashes[i]!.slice().buffer]);
    const statements = [
      // Removals first, so an alias one row gives up can be taken by another row of the same batch.
      ...inLists(db, (l) => `DELETE FROM recipient_addresses WHERE address IN (${l})`, plan.removedAddresses),
      ...multiRow(
        db,
        plan.newRecipients,
        `(?, ?, ?, ?, ${NOW})`,
        (v) => `INSERT INTO recipients (address, domain, reject_internet, scl_override, updated_at) VALUES ${v}`,
        (r) => [r.address, domainOf(r.address), r.rejectInternet ? 1 : 0, r.sclOverride],
      ),
      ...multiRow(
        db,
        plan.flagChanges,
        "(?, ?, ?)",
        (v) =>
          `UPDATE recipients SET reject_internet = v.column2, scl_override = v.column3, updated_at = ${NOW} FROM (VALUES ${v}) AS v WHERE recipients.address = v.column1`,
        (r) => [r.address, r.rejectInternet ? 1 : 0, r.sclOverride],
      ),
      // Only updated_at: naming the flag columns would fire their trigger for unchanged flags.
      ...inLists(db, (l) => `UPDATE recipients SET updated_at = ${NOW} WHERE address IN (${l})`, plan.touched),
      ...multiRow(
        db,
        newAddresses,
        "(?, ?, ?, ?)",
        (v) => `INSERT INTO recipient_addresses (address, recipient, domain, hash) VALUES ${v}`,
        (a) => a,
      ),
    ];
    if (statements.length === 0) return;
    try {
      await db.batch(statements);
    } catch (err) {
      if (/constraint/i.test(String(err))) throw new ImportConflictError(String(err instanceof Error ? err.message : err));
      throw err;
    }
  }
}

/** Adds a valid row's writes to the plan and records its effect in `stored` for the rows after it. */
function planRow(row: RecipientUpsert, stored: Stored, plan: Plan): "created" | "updated" | "unchanged" {
  const before = stored.recipients.get(row.address);
  const flags: Flags = {
    rejectInternet: row.rejectInternet ?? before?.rejectInternet ?? false,
    sclOverride: row.sclOverride === undefined ? (before?.sclOverride ?? null) : row.sclOverride,
  };
  stored.recipients.set(row.address, flags);
  const oldAliases = stored.aliases.get(row.address) ?? new Set<string>();
  const newAliases = row.aliases === undefined ? oldAliases : new Set(row.aliases);
  stored.aliases.set(row.address, newAliases);
  let removed = 0;
  for (const alias of oldAliases) {
    if (newAliases.has(alias)) continue;
    plan.removedAddresses.push(alias);
    stored.owners.delete(alias);
    removed++;
  }
  const added = [...newAliases].filter((a) => !oldAliases.has(a));
  // A recipient written before addresses had their own rows gets its primary row now.
  if (stored.owners.get(row.address) !== row.address) added.unshift(row.address);
  for (const address of added) {
    plan.newAddresses.push({ address, recipient: row.address });
    stored.owners.set(address, row.address);
  }
  if (before === undefined) {
    plan.newRecipients.push({ address: row.address, ...flags });
    return "created";
  }
  const flagsChanged = flags.rejectInternet !== before.rejectInternet || flags.sclOverride !== before.sclOverride;
  if (flagsChanged) plan.flagChanges.push({ address: row.address, ...flags });
  else if (added.length > 0 || removed > 0) plan.touched.push(row.address);
  else return "unchanged";
  return "updated";
}
