import { fromBase64, toBase64 } from "../../../shared/base64.ts";
import { type Entry, entryFor } from "../../../shared/directory/entry.ts";
import { DirectoryKey, sha256Hex } from "../../../shared/directory/hash.ts";
import { blobBytes } from "../db/directory.ts";
import { fullBuildRoot } from "../sync/build.ts";
import { EXPORT_FORMAT, EXPORT_MAX_ADDRESSES, EXPORT_SCHEMA, exportPrefix, latestKey } from "./limits.ts";
import { pruneExports } from "./retention.ts";

/**
 * Everything an edge's snapshot is built from, plus what a hub needs to carry on from it: accepted
 * domains (with their onward routes), recipients and their hashed addresses, policy documents
 * (relay clients and the hub list among them) and the registered edges — a standby learns whom
 * to sync from them. Tokens, the audit log, the mailbox and tracking stay with each hub.
 */
export interface DirectoryRows {
  domains: { name: string; route: string | null; routeSecret: string | null; createdAt: string }[];
  recipients: { address: string; domain: string; rejectInternet: boolean; sclOverride: number | null; createdAt: string; updatedAt: string | null }[];
  /** `hash`: the keyed address hash (base64), as the hub stored it; valid only under the same DIRECTORY_KEY. */
  addresses: { address: string; recipient: string; domain: string; hash: string }[];
  /** `body`: the stored JSON text, unchanged. */
  policies: { name: string; body: string; updatedAt: string }[];
  edges: { id: string; transport: "binding" | "https"; binding: string | null; url: string | null; createdAt: string }[];
}

export interface ExportCounts {
  domains: number;
  recipients: number;
  addresses: number;
  policies: number;
  edges: number;
}

/** One export as stored (gzip'd JSON) in the BACKUP bucket. */
export interface ExportDocument extends DirectoryRows {
  format: typeof EXPORT_FORMAT;
  schema: number;
  hubId: string;
  createdAt: string;
  /** Id of the DIRECTORY_KEY the address hashes were made with. */
  keyId: string;
  /** The snapshot root hash a hub builds from these rows when its snapshot history is empty (as after a restore). */
  root: string;
  /** SHA-256 of the rows and key id: equal exports have equal hashes, whenever they were written. */
  contentHash: string;
  counts: ExportCounts;
}

/** The pointer to a hub's newest export (R2 `latest/<hubId>.json`): what a standby follows. */
export interface LatestPointer {
  key: string;
  root: string;
  contentHash: string;
  createdAt: string;
  counts: ExportCounts;
  /**
   * The {@link directoryMarker} the export's rows were read at (absent in pointers written before
   * markers): while the directory's marker still equals it, nothing changed and the cron's check
   * reads no recipient or address.
   */
  marker?: string;
}

/** The directory has more address rows than one export may hold. */
export class ExportTooLargeError extends Error {
  override name = "ExportTooLargeError";
}

export const countsOf = (rows: DirectoryRows): ExportCounts => ({
  domains: rows.domains.length,
  recipients: rows.recipients.length,
  addresses: rows.addresses.length,
  policies: rows.policies.length,
  edges: rows.edges.length,
});

type Row = Record<string, unknown>;
const rowsOf = <T>(r: D1Result<Row> | undefined): T[] => (r?.results ?? []) as T[];

/**
 * The statements of the small tables, read in full on every check: the change log's newest seq,
 * the export this hub last restored (a restore empties the change log), domains with their
 * routes, policies and edges. Routes and edges are not in the change log, so their rows are hashed.
 */
function smallStatements(db: D1Database): D1PreparedStatement[] {
  return [
    db.prepare("SELECT COALESCE(MAX(seq), 0) AS seq FROM directory_changes"),
    db.prepare("SELECT value FROM backup_state WHERE name = 'applied'"),
    db.prepare("SELECT name, route, route_secret, created_at FROM domains ORDER BY name"),
    db.prepare("SELECT name, body, updated_at FROM policies ORDER BY name"),
    db.prepare("SELECT id, transport, binding, url, created_at FROM edges ORDER BY id"),
  ];
}

type SmallTables = Pick<DirectoryRows, "domains" | "policies" | "edges">;

/** The small tables and the marker from the results of {@link smallStatements}, in that order. */
async function smallTables(results: D1Result<Row>[], keyId: string): Promise<{ small: SmallTables; marker: string }> {
  const [seq, applied, domains, policies, edges] = results;
  const small: SmallTables = {
    domains: rowsOf<{ name: string; route: string | null; route_secret: string | null; created_at: string }>(domains).map((r) => ({
      name: r.name,
      route: r.route,
      routeSecret: r.route_secret,
      createdAt: r.created_at,
    })),
    policies: rowsOf<{ name: string; body: string; updated_at: string }>(policies).map((r) => ({ name: r.name, body: r.body, updatedAt: r.updated_at })),
    edges: rowsOf<{ id: string; transport: "binding" | "https"; binding: string | null; url: string | null; created_at: string }>(edges).map((r) => ({
      id: r.id,
      transport: r.transport,
      binding: r.binding,
      url: r.url,
      createdAt: r.created_at,
    })),
  };
  const lastSeq = rowsOf<{ seq: number }>(seq)[0]?.seq ?? 0;
  const lastApplied = rowsOf<{ value: string }>(applied)[0]?.value ?? null;
  return { small, marker: `${lastSeq}-${await sha256Hex(JSON.stringify({ keyId, lastApplied, ...small }))}` };
}

/**
 * What an export's content depends on, read without touching recipients or addresses: every
 * change to those goes through the triggers of directory_changes (inserts, deletes, flag updates,
 * renames by cascade), whose seq never goes back; a restore empties the log but records itself in
 * backup_state; routes, policies and edges are small and hashed in full. Equal markers mean equal
 * exports; a different marker may still give the same content (a change and its undoing).
 */
export async function directoryMarker(db: D1Database, keyId: string): Promise<string> {
  return (await smallTables(await db.batch<Row>(smallStatements(db)), keyId)).marker;
}

/**
 * Reads the directory and its marker in one D1 batch — one transaction, so the tables agree with
 * each other and with the marker even while administrators are writing. Refuses past
 * EXPORT_MAX_ADDRESSES address rows.
 */
export async function readMarkedDirectory(db: D1Database, keyId: string): Promise<{ rows: DirectoryRows; marker: string }> {
  const n = (await db.prepare("SELECT COUNT(*) AS n FROM recipient_addresses").first<{ n: number }>())?.n ?? 0;
  if (n > EXPORT_MAX_ADDRESSES) throw new ExportTooLargeError(`the directory has ${n} addresses; one export holds at most ${EXPORT_MAX_ADDRESSES}`);
  const small = smallStatements(db);
  const results = await db.batch<Row>([
    ...small,
    db.prepare("SELECT address, domain, reject_internet, scl_override, created_at, updated_at FROM recipients ORDER BY address"),
    // In hash order: the order a full build writes its shards in.
    db.prepare("SELECT address, recipient, domain, hash FROM recipient_addresses ORDER BY hash"),
  ]);
  const { small: tables, marker } = await smallTables(results.slice(0, small.length), keyId);
  const [recipients, addresses] = results.slice(small.length);
  const rows: DirectoryRows = {
    domains: tables.domains,
    recipients: rowsOf<{
      address: string;
      domain: string;
      reject_internet: number;
      scl_override: number | null;
      created_at: string;
      updated_at: string | null;
    }>(recipients).map((r) => ({
      address: r.address,
      domain: r.domain,
      rejectInternet: r.reject_internet === 1,
      sclOverride: r.scl_override,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    })),
    addresses: rowsOf<{ address: string; recipient: string; domain: string; hash: unknown }>(addresses).map((r) => ({
      address: r.address,
      recipient: r.recipient,
      domain: r.domain,
      hash: toBase64(blobBytes(r.hash)),
    })),
    policies: tables.policies,
    edges: tables.edges,
  };
  return { rows, marker };
}

/** The directory as {@link readMarkedDirectory} reads it, without the marker. */
export async function readDirectory(db: D1Database): Promise<DirectoryRows> {
  return (await readMarkedDirectory(db, "")).rows;
}

/** The root hash a full build of these rows gives (see {@link fullBuildRoot}). Addresses must be in hash order, as {@link readDirectory} gives them. */
export async function rowsRoot(rows: DirectoryRows, key: DirectoryKey): Promise<string> {
  const flags = new Map(rows.recipients.map((r) => [r.address, r]));
  const entries: Entry[] = rows.addresses.map((a) => entryFor(fromBase64(a.hash), flags.get(a.recipient) ?? {}));
  const policies = Object.fromEntries(rows.policies.map((p) => [p.name, JSON.parse(p.body) as unknown]));
  return fullBuildRoot({ domains: rows.domains.map((d) => d.name), policies, entries }, key);
}

export const contentHashOf = (rows: DirectoryRows, keyId: string): Promise<string> => sha256Hex(JSON.stringify({ keyId, ...rows }));

/** gzip'd bytes of a JSON value. */
async function gzipJson(value: unknown): Promise<ArrayBuffer> {
  const stream = new Blob([JSON.stringify(value)]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

export async function readLatest(bucket: R2Bucket, hubId: string): Promise<LatestPointer | null> {
  const object = await bucket.get(latestKey(hubId));
  return object === null ? null : ((await object.json()) as LatestPointer);
}

async function putPointer(env: Env, pointer: LatestPointer): Promise<void> {
  await env.BACKUP.put(latestKey(env.HUB_ID), JSON.stringify(pointer), { httpMetadata: { contentType: "application/json" } });
}

export type ExportResult = { written: boolean; hubId: string } & Omit<LatestPointer, "marker">;

const answer = (written: boolean, hubId: string, p: LatestPointer): ExportResult => ({
  written,
  hubId,
  key: p.key,
  root: p.root,
  contentHash: p.contentHash,
  createdAt: p.createdAt,
  counts: p.counts,
});

/**
 * Writes an export of the directory to BACKUP unless the newest one already has the same content
 * (then answers that one, `written: false`), updates the hub's latest pointer, and applies the
 * retention. While the directory's marker equals the newest export's, nothing is read beyond the
 * small tables: the cron runs this every minute, and most minutes nothing changed. Key: `exports/<HUB_ID>/<ISO time>-<root prefix>.json.gz` — keys sort by time.
 */
export async function createExport(env: Env, now = new Date()): Promise<ExportResult> {
  const key = await DirectoryKey.cached(env.DIRECTORY_KEY);
  const [latest, current] = await Promise.all([readLatest(env.BACKUP, env.HUB_ID), directoryMarker(env.DB, key.id)]);
  const stored = async (): Promise<boolean> => latest !== null && (await env.BACKUP.head(latest.key)) !== null;
  // The cheap check: the small tables and the change log's seq only, no recipient or address row.
  if (latest !== null && latest.marker === current && (await stored())) return answer(false, env.HUB_ID, latest);
  const { rows, marker } = await readMarkedDirectory(env.DB, key.id);
  const contentHash = await contentHashOf(rows, key.id);
  if (latest !== null && latest.contentHash === contentHash && (await stored())) {
    // Same content under a new marker (a change undone, or a pointer from before markers): the
    // pointer takes the new marker, so the next check is a cheap one again.
    await putPointer(env, { ...latest, marker });
    return answer(false, env.HUB_ID, latest);
  }
  const root = await rowsRoot(rows, key);
  const createdAt = now.toISOString();
  const counts = countsOf(rows);
  const document: ExportDocument = {
    format: EXPORT_FORMAT,
    schema: EXPORT_SCHEMA,
    hubId: env.HUB_ID,
    createdAt,
    keyId: key.id,
    root,
    contentHash,
    counts,
    ...rows,
  };
  const objectKey = `${exportPrefix(env.HUB_ID)}${createdAt}-${root.slice(0, 12)}.json.gz`;
  await env.BACKUP.put(objectKey, await gzipJson(document), {
    httpMetadata: { contentType: "application/gzip" },
    customMetadata: {
      root,
      hubId: env.HUB_ID,
      createdAt,
      format: String(EXPORT_FORMAT),
      schema: String(EXPORT_SCHEMA),
      contentHash,
      counts: JSON.stringify(counts),
      marker,
    },
  });
  // The export first, then the pointer to it: the pointer never names a missing export.
  const pointer: LatestPointer = { key: objectKey, root, contentHash, createdAt, counts, marker };
  await putPointer(env, pointer);
  await pruneExports(env, now);
  return answer(true, env.HUB_ID, pointer);
}
