import { toBase64 } from "../../../shared/base64.ts";
import { type Entry, entryFor } from "../../../shared/directory/entry.ts";
import { DirectoryKey, sha256Hex } from "../../../shared/directory/hash.ts";
import { blobBytes } from "../db/directory.ts";
import { streamedFullBuildRoot } from "../sync/build.ts";
import {
  EXPORT_FORMAT,
  EXPORT_MAX_ADDRESSES,
  EXPORT_PAGE_ROWS,
  EXPORT_PART_BYTES,
  EXPORT_READ_ATTEMPTS,
  EXPORT_SCHEMA,
  exportPrefix,
  latestKey,
} from "./limits.ts";
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

/** The first line of a format 2 export. */
export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  schema: number;
  hubId: string;
  createdAt: string;
  /** Id of the DIRECTORY_KEY the address hashes were made with. */
  keyId: string;
}

/** The last line of a format 2 export (`{"end": …}`): a restore that does not reach it fails. */
export interface ExportEnd {
  /** The snapshot root hash a hub builds from these rows when its snapshot history is empty (as after a restore). */
  root: string;
  /** SHA-256 chained over the export's lines from the key id: equal exports have equal hashes, whenever they were written. */
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

/** No export now: the directory is being restored (or a restore failed), or changed during every read. */
export class ExportBusyError extends Error {
  override name = "ExportBusyError";
}

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
    db.prepare("SELECT name, value FROM backup_state WHERE name IN ('applied', 'restoring') ORDER BY name"),
    db.prepare("SELECT name, route, route_secret, created_at FROM domains ORDER BY name"),
    db.prepare("SELECT name, body, updated_at FROM policies ORDER BY name"),
    db.prepare("SELECT id, transport, binding, url, created_at FROM edges ORDER BY id"),
  ];
}

type SmallTables = Pick<DirectoryRows, "domains" | "policies" | "edges">;

/** The small tables and the marker from the results of {@link smallStatements}, in that order. */
async function smallTables(results: D1Result<Row>[], keyId: string): Promise<{ small: SmallTables; marker: string; restoring: boolean }> {
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
  const state = rowsOf<{ name: string; value: string }>(applied);
  const lastApplied = state.find((r) => r.name === "applied")?.value ?? null;
  const restoring = state.find((r) => r.name === "restoring")?.value ?? null;
  const marker = `${lastSeq}-${await sha256Hex(JSON.stringify({ keyId, lastApplied, restoring, ...small }))}`;
  return { small, marker, restoring: restoring !== null };
}

/**
 * What an export's content depends on, read without touching recipients or addresses: every
 * change to those goes through the triggers of directory_changes (inserts, deletes, flag updates,
 * renames by cascade), whose seq never goes back; a restore empties the log but records itself in
 * backup_state (as it starts, and as it ends); routes, policies and edges are small and hashed in full. Equal markers mean equal
 * exports; a different marker may still give the same content (a change and its undoing).
 */
export async function directoryMarker(db: D1Database, keyId: string): Promise<string> {
  return (await smallTables(await db.batch<Row>(smallStatements(db)), keyId)).marker;
}

type RecipientRow = DirectoryRows["recipients"][number];
type AddressRow = DirectoryRows["addresses"][number];

/** Recipients in address order, a keyset page at a time. */
async function* recipientPages(db: D1Database, pageRows: number): AsyncGenerator<RecipientRow[]> {
  let after = "";
  for (;;) {
    const { results } = await db
      .prepare("SELECT address, domain, reject_internet, scl_override, created_at, updated_at FROM recipients WHERE address > ? ORDER BY address LIMIT ?")
      .bind(after, pageRows)
      .all<{ address: string; domain: string; reject_internet: number; scl_override: number | null; created_at: string; updated_at: string | null }>();
    if (results.length === 0) return;
    yield results.map((r) => ({
      address: r.address,
      domain: r.domain,
      rejectInternet: r.reject_internet === 1,
      sclOverride: r.scl_override,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }));
    if (results.length < pageRows) return;
    after = results[results.length - 1]!.address;
  }
}

/** Address rows in hash order (the order a full build writes its shards in), each with its entry: its recipient's flags joined, as the build does. */
async function* addressPages(db: D1Database, pageRows: number): AsyncGenerator<{ rows: AddressRow[]; entries: Entry[] }> {
  let after: Uint8Array = new Uint8Array(0);
  for (;;) {
    const { results } = await db
      .prepare(
        `SELECT ra.address AS address, ra.recipient AS recipient, ra.domain AS domain, ra.hash AS hash, r.reject_internet AS reject_internet, r.scl_override AS scl_override
         FROM recipient_addresses ra LEFT JOIN recipients r ON r.address = ra.recipient WHERE ra.hash > ? ORDER BY ra.hash LIMIT ?`,
      )
      .bind(after, pageRows)
      .all<{ address: string; recipient: string; domain: string; hash: unknown; reject_internet: number | null; scl_override: number | null }>();
    if (results.length === 0) return;
    const hashes = results.map((r) => blobBytes(r.hash));
    yield {
      rows: results.map((r, i) => ({ address: r.address, recipient: r.recipient, domain: r.domain, hash: toBase64(hashes[i]!) })),
      entries: results.map((r, i) =>
        entryFor(hashes[i]!, r.reject_internet === null ? {} : { rejectInternet: r.reject_internet === 1, sclOverride: r.scl_override }),
      ),
    };
    if (results.length < pageRows) return;
    after = hashes[hashes.length - 1]!;
  }
}

type Target = { key: string; metadata: Record<string, string> };

/**
 * gzip'd text to one R2 object with bounded memory: parts of exactly `partBytes` (R2 wants every
 * part but the last the same size) go up in a multipart upload as soon as they fill; an object
 * smaller than one part is one put.
 */
class ExportWriter {
  readonly #bucket: R2Bucket;
  readonly #partBytes: number;
  readonly #multipart: () => Target;
  readonly #input: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pump: Promise<void>;
  readonly #encoder = new TextEncoder();
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #upload: R2MultipartUpload | null = null;
  readonly #parts: R2UploadedPart[] = [];

  constructor(bucket: R2Bucket, partBytes: number, multipart: () => Target) {
    this.#bucket = bucket;
    this.#partBytes = partBytes;
    this.#multipart = multipart;
    const gzip = new CompressionStream("gzip");
    this.#input = gzip.writable.getWriter();
    this.#pump = this.#drain(gzip.readable);
    // A failure shows where the pump is awaited (finish); keep it from going unhandled meanwhile.
    this.#pump.catch(() => undefined);
  }

  async #drain(readable: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of readable as unknown as AsyncIterable<Uint8Array>) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.byteLength;
      while (this.#buffered >= this.#partBytes) await this.#uploadPart(this.#take(this.#partBytes));
    }
  }

  /** The first `n` buffered bytes, taken out of the buffer. */
  #take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#chunks[0]!;
      const used = Math.min(chunk.byteLength, n - at);
      out.set(chunk.subarray(0, used), at);
      at += used;
      if (used === chunk.byteLength) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(used);
    }
    this.#buffered -= n;
    return out;
  }

  async #uploadPart(bytes: Uint8Array): Promise<void> {
    if (this.#upload === null) {
      const { key, metadata } = this.#multipart();
      this.#upload = await this.#bucket.createMultipartUpload(key, { httpMetadata: { contentType: "application/gzip" }, customMetadata: metadata });
    }
    this.#parts.push(await this.#upload.uploadPart(this.#parts.length + 1, bytes));
  }

  async write(text: string): Promise<void> {
    await this.#input.write(this.#encoder.encode(text));
  }

  /** Ends the object; a single put takes its key and metadata from `single`. Answers the key written. */
  async finish(single: () => Target): Promise<string> {
    await this.#input.close();
    await this.#pump;
    const rest = this.#take(this.#buffered);
    if (this.#upload === null) {
      const { key, metadata } = single();
      await this.#bucket.put(key, rest, { httpMetadata: { contentType: "application/gzip" }, customMetadata: metadata });
      return key;
    }
    if (rest.byteLength > 0) await this.#uploadPart(rest);
    await this.#upload.complete(this.#parts);
    return this.#upload.key;
  }

  /** Drops what was written: nothing of it stays in R2. */
  async abort(): Promise<void> {
    await this.#input.abort().catch(() => undefined);
    await this.#pump.catch(() => undefined);
    await this.#upload?.abort();
  }
}

export interface ExportOptions {
  /** Rows per page read and per line written (default EXPORT_PAGE_ROWS; the content hash depends on it). */
  pageRows?: number;
  /** Bytes per multipart part (default EXPORT_PART_BYTES). */
  partBytes?: number;
  /** Called after each page of recipients or addresses is written (tests change the directory here). */
  betweenPages?: () => Promise<void>;
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
 * small tables: the cron runs this every minute, and most minutes nothing changed.
 *
 * The rows are read in keyset pages and streamed, gzip'd, to R2, so memory does not grow with the
 * directory. The marker is read before the first page and after the last: every change to an
 * exported table moves it, so equal markers prove the pages one consistent copy. If it moved, the
 * upload is dropped and the read starts again (EXPORT_READ_ATTEMPTS in all). Key:
 * `exports/<HUB_ID>/<ISO time>-<root prefix>.json.gz` (past one part, the marker's prefix: the key
 * is chosen before the root is known) — keys sort by time.
 */
export async function createExport(env: Env, now = new Date(), options: ExportOptions = {}): Promise<ExportResult> {
  const key = await DirectoryKey.cached(env.DIRECTORY_KEY);
  const [latest, current] = await Promise.all([readLatest(env.BACKUP, env.HUB_ID), directoryMarker(env.DB, key.id)]);
  const stored = async (): Promise<boolean> => latest !== null && (await env.BACKUP.head(latest.key)) !== null;
  // The cheap check: the small tables and the change log's seq only, no recipient or address row.
  if (latest !== null && latest.marker === current && (await stored())) return answer(false, env.HUB_ID, latest);
  for (let attempt = 1; attempt <= EXPORT_READ_ATTEMPTS; attempt++) {
    const result = await exportOnce(env, key, latest, stored, now, options);
    if (result !== null) return result;
  }
  throw new ExportBusyError(`the directory changed during each of ${EXPORT_READ_ATTEMPTS} reads; the next run tries again`);
}

/** One paged read and upload; null when the marker moved during it (nothing of it is kept then). */
async function exportOnce(
  env: Env,
  key: DirectoryKey,
  latest: LatestPointer | null,
  stored: () => Promise<boolean>,
  now: Date,
  options: ExportOptions,
): Promise<ExportResult | null> {
  const db = env.DB;
  const pageRows = options.pageRows ?? EXPORT_PAGE_ROWS;
  const small = smallStatements(db);
  // The count in the marker's batch: the root's shard layout depends on it.
  const before = await db.batch<Row>([...small, db.prepare("SELECT COUNT(*) AS n FROM recipient_addresses")]);
  const { small: tables, marker, restoring } = await smallTables(before.slice(0, small.length), key.id);
  if (restoring) throw new ExportBusyError("the directory is being restored (or its last restore failed): no export until a restore completes");
  const total = rowsOf<{ n: number }>(before[small.length])[0]?.n ?? 0;
  if (total > EXPORT_MAX_ADDRESSES) throw new ExportTooLargeError(`the directory has ${total} addresses; one export holds at most ${EXPORT_MAX_ADDRESSES}`);

  const createdAt = now.toISOString();
  const prefix = `${exportPrefix(env.HUB_ID)}${createdAt}-`;
  const metadata = { hubId: env.HUB_ID, createdAt, format: String(EXPORT_FORMAT), schema: String(EXPORT_SCHEMA), marker };
  const markerHash = marker.slice(marker.indexOf("-") + 1);
  const out = new ExportWriter(env.BACKUP, options.partBytes ?? EXPORT_PART_BYTES, () => ({ key: `${prefix}${markerHash.slice(0, 12)}.json.gz`, metadata }));
  let contentHash = key.id;
  const line = async (value: unknown): Promise<void> => {
    const text = `${JSON.stringify(value)}\n`;
    contentHash = await sha256Hex(contentHash + text);
    await out.write(text);
  };
  const counts: ExportCounts = { domains: tables.domains.length, recipients: 0, addresses: 0, policies: tables.policies.length, edges: tables.edges.length };
  async function* entries(): AsyncGenerator<Entry[]> {
    for await (const page of addressPages(db, pageRows)) {
      await line({ addresses: page.rows });
      counts.addresses += page.rows.length;
      await options.betweenPages?.();
      yield page.entries;
    }
  }
  try {
    const header: ExportHeader = { format: EXPORT_FORMAT, schema: EXPORT_SCHEMA, hubId: env.HUB_ID, createdAt, keyId: key.id };
    await out.write(`${JSON.stringify(header)}\n`);
    await line({ domains: tables.domains });
    await line({ policies: tables.policies });
    await line({ edges: tables.edges });
    for await (const page of recipientPages(db, pageRows)) {
      await line({ recipients: page });
      counts.recipients += page.length;
      await options.betweenPages?.();
    }
    const policies = Object.fromEntries(tables.policies.map((p) => [p.name, JSON.parse(p.body) as unknown]));
    const root = await streamedFullBuildRoot({ domains: tables.domains.map((d) => d.name), policies, count: total, pages: entries() }, key);
    if ((await directoryMarker(db, key.id)) !== marker || counts.addresses !== total) {
      await out.abort();
      return null;
    }
    if (latest !== null && latest.contentHash === contentHash && (await stored())) {
      // Same content under a new marker (a change undone, or a pointer from before markers): the
      // pointer takes the new marker, so the next check is a cheap one again.
      await out.abort();
      await putPointer(env, { ...latest, marker });
      return answer(false, env.HUB_ID, latest);
    }
    const end: ExportEnd = { root, contentHash, counts };
    await out.write(`${JSON.stringify({ end })}\n`);
    const objectKey = await out.finish(() => ({
      key: `${prefix}${root.slice(0, 12)}.json.gz`,
      metadata: { ...metadata, root, contentHash, counts: JSON.stringify(counts) },
    }));
    // The export first, then the pointer to it: the pointer never names a missing export.
    const pointer: LatestPointer = { key: objectKey, root, contentHash, createdAt, counts, marker };
    await putPointer(env, pointer);
    await pruneExports(env, now);
    return answer(true, env.HUB_ID, pointer);
  } catch (err) {
    await out.abort();
    throw err;
  }
}
