import { z } from "zod";
import { fromBase64 } from "../../../shared/base64.ts";
import { DirectoryKey } from "../../../shared/directory/hash.ts";
import { multiRow, tupleOf } from "../db/statements.ts";
import { storedFullBuildRoot } from "../sync/build.ts";
import type { ExportCounts } from "./export.ts";
import { EXPORT_MAX_JSON_BYTES, EXPORT_PAGE_ROWS, EXPORT_SCHEMA } from "./limits.ts";
import { readState, writeState, writeStateStatement } from "./state.ts";

/** An export key as this hub writes them: `exports/<hub id>/<name>.json.gz`. */
export const EXPORT_KEY = /^exports\/[A-Za-z0-9._-]{1,64}\/[A-Za-z0-9:._-]{1,100}\.json\.gz$/;

/** A restore that cannot go ahead, with the HTTP status and error code the admin API answers. */
export class RestoreError extends Error {
  override name = "RestoreError";
  readonly status: 400 | 404 | 409;
  readonly code: string;

  constructor(status: 400 | 404 | 409, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const text = z.string();
const time = z.string().max(64);
const Counts = z.object({ domains: z.number(), recipients: z.number(), addresses: z.number(), policies: z.number(), edges: z.number() });
const Domain = z.object({ name: text, route: text.nullable(), routeSecret: text.nullable(), createdAt: time });
const Recipient = z.object({
  address: text,
  domain: text,
  rejectInternet: z.boolean(),
  sclOverride: z.number().int().min(0).max(9).nullable(),
  createdAt: time,
  updatedAt: time.nullable(),
});
const Address = z.object({ address: text, recipient: text, domain: text, hash: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/) });
const Policy = z.object({ name: text, body: text, updatedAt: time });
const Edge = z.object({ id: text, transport: z.enum(["binding", "https"]), binding: text.nullable(), url: text.nullable(), createdAt: time });
const Header = z.object({ format: z.literal(2), schema: z.number().int().positive(), hubId: text, createdAt: time, keyId: text });
const End = z.object({ root: z.string().regex(/^[0-9a-f]{64}$/), contentHash: text, counts: Counts });
/** Format 1: the whole export as one JSON document. */
const FormatOne = Header.extend({
  format: z.literal(1),
  root: End.shape.root,
  contentHash: text,
  counts: Counts,
  domains: z.array(Domain),
  recipients: z.array(Recipient),
  addresses: z.array(Address),
  policies: z.array(Policy),
  edges: z.array(Edge),
});
/** Every line of a format 2 export after its header. */
const Line = z.union([
  z.object({ domains: z.array(Domain) }).strict(),
  z.object({ policies: z.array(Policy) }).strict(),
  z.object({ edges: z.array(Edge) }).strict(),
  z.object({ recipients: z.array(Recipient) }).strict(),
  z.object({ addresses: z.array(Address) }).strict(),
  z.object({ end: End }).strict(),
]);
type Section = z.infer<typeof Line>;
type HeaderOf = { format: 1 | 2; hubId: string; createdAt: string; keyId: string };

const invalid = (key: string, why: string): RestoreError => new RestoreError(400, "invalid_export", `${key} ${why}`);

/** The decompressed lines of an export, each at most EXPORT_MAX_JSON_BYTES characters. */
async function* exportLines(body: ReadableStream<Uint8Array>, key: string): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for await (const chunk of body.pipeThrough(new DecompressionStream("gzip")) as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let start = 0;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n", start)) {
        yield buffer.slice(start, nl);
        start = nl + 1;
      }
      buffer = buffer.slice(start);
      if (buffer.length > EXPORT_MAX_JSON_BYTES) throw invalid(key, `has a line longer than ${EXPORT_MAX_JSON_BYTES} bytes`);
    }
    buffer += decoder.decode();
  } catch (err) {
    if (err instanceof RestoreError) throw err;
    throw invalid(key, `is not gzip'd JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (buffer.length > 0) yield buffer;
}

function parseLine(line: string, key: string): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    throw invalid(key, `is not gzip'd JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function checked<T>(schema: z.ZodType<T>, value: unknown, key: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw invalid(key, `is not a directory export: ${issue?.path.join(".") ?? ""} ${issue?.message ?? "invalid"}`);
}

/** A format 1 document as the sections a format 2 export gives, in pages. */
function* sectionsOfOne(doc: z.infer<typeof FormatOne>): Generator<Section> {
  yield { domains: doc.domains };
  yield { policies: doc.policies };
  yield { edges: doc.edges };
  for (let i = 0; i < doc.recipients.length; i += EXPORT_PAGE_ROWS) yield { recipients: doc.recipients.slice(i, i + EXPORT_PAGE_ROWS) };
  for (let i = 0; i < doc.addresses.length; i += EXPORT_PAGE_ROWS) yield { addresses: doc.addresses.slice(i, i + EXPORT_PAGE_ROWS) };
  yield { end: { root: doc.root, contentHash: doc.contentHash, counts: doc.counts } };
}

/**
 * Opens an export from BACKUP: its header, checked, and its sections to read one at a time (each
 * checked as it is read). Format 1 (one JSON document) and 2 (lines) both read this way.
 */
export async function openExport(bucket: R2Bucket, key: string): Promise<{ header: HeaderOf; sections: AsyncIterable<Section> | Iterable<Section> }> {
  if (!EXPORT_KEY.test(key)) throw new RestoreError(400, "invalid_key", "key must name an export: exports/<hub id>/<time>-<root>.json.gz");
  const object = await bucket.get(key);
  if (object === null) throw new RestoreError(404, "not_found", `No export ${key} in the backup bucket`);
  const lines = exportLines(object.body, key);
  const first = await lines.next();
  const json = first.done === true ? undefined : parseLine(first.value, key);
  if (typeof json === "object" && json !== null && "schema" in json && typeof json.schema === "number" && json.schema > EXPORT_SCHEMA) {
    await lines.return(undefined);
    throw new RestoreError(409, "newer_schema", `${key} comes from schema ${json.schema}; this hub knows up to ${EXPORT_SCHEMA}: upgrade it first`);
  }
  if (typeof json === "object" && json !== null && "format" in json && json.format === 1) {
    await lines.return(undefined);
    const doc = checked(FormatOne, json, key);
    return { header: doc, sections: sectionsOfOne(doc) };
  }
  const header = checked(Header, json, key);
  async function* sections(): AsyncGenerator<Section> {
    for await (const line of lines) if (line.length > 0) yield checked(Line, parseLine(line, key), key);
  }
  return { header, sections: sections() };
}

/** Multi-row INSERTs of `rows`, as many rows per statement as D1's parameter limit allows. */
function inserts(db: D1Database, head: string, rows: unknown[][]): D1PreparedStatement[] {
  if (rows.length === 0) return [];
  return multiRow(
    db,
    rows,
    tupleOf(rows[0]!.length),
    (values) => `${head} VALUES ${values}`,
    (row) => row,
  );
}

const DIRECTORY_NOT_EMPTY =
  "EXISTS (SELECT 1 FROM domains) OR EXISTS (SELECT 1 FROM recipients) OR EXISTS (SELECT 1 FROM policies) OR EXISTS (SELECT 1 FROM edges)";

/** True when the hub has no domains, recipients, policies or edges. */
export async function directoryEmpty(db: D1Database): Promise<boolean> {
  return (await db.prepare(`SELECT (${DIRECTORY_NOT_EMPTY}) AS used`).first<{ used: number }>())?.used === 0;
}

/** A restore under way, or one that failed (backup_state "restoring"): sync and exports wait while it is set. */
export interface RestoringState {
  key: string;
  startedAt: string;
  /** Why the restore stopped; null while it runs. */
  error: string | null;
}

export interface RestoreResult {
  key: string;
  /** The hub the export came from. */
  hubId: string;
  createdAt: string;
  root: string;
  contentHash: string;
  counts: ExportCounts;
  /** True when the restored rows give the export's root hash again (checked after the restore). */
  verified: boolean;
}

const TABLES = ["recipient_addresses", "recipients", "domains", "policies", "edges", "directory_changes", "snapshots"] as const;

/** INSERT statements of one section. */
function sectionInserts(db: D1Database, section: Section): D1PreparedStatement[] {
  if ("domains" in section)
    return inserts(
      db,
      "INSERT INTO domains (name, route, route_secret, created_at)",
      section.domains.map((d) => [d.name, d.route, d.routeSecret, d.createdAt]),
    );
  if ("recipients" in section)
    return inserts(
      db,
      "INSERT INTO recipients (address, domain, reject_internet, scl_override, created_at, updated_at)",
      section.recipients.map((r) => [r.address, r.domain, r.rejectInternet ? 1 : 0, r.sclOverride, r.createdAt, r.updatedAt]),
    );
  if ("addresses" in section)
    return inserts(
      db,
      "INSERT INTO recipient_addresses (address, recipient, domain, hash)",
      section.addresses.map((a) => [a.address, a.recipient, a.domain, fromBase64(a.hash)]),
    );
  if ("policies" in section)
    return inserts(
      db,
      "INSERT INTO policies (name, body, updated_at)",
      section.policies.map((p) => [p.name, p.body, p.updatedAt]),
    );
  if ("edges" in section)
    return inserts(
      db,
      "INSERT INTO edges (id, transport, binding, url, created_at)",
      section.edges.map((e) => [e.id, e.transport, e.binding, e.url, e.createdAt]),
    );
  return [];
}

/**
 * Replaces the directory (domains, recipients, addresses, policies, edges) with an export's, read
 * and inserted a section (at most EXPORT_PAGE_ROWS rows) at a time, so an export of any size fits
 * in memory and in D1's batches. Without `force` the directory must be empty (or hold a failed
 * restore). Not one transaction: the first batch empties the tables, the snapshot history and the
 * change log and records backup_state "restoring"; while that is set, sync rounds and exports
 * skip. The last batch, once every row is in and the counts match the export's end line, records
 * the export as applied and clears "restoring". A restore that fails in between leaves "restoring"
 * set with the error; the next attempt starts over from empty tables. The root hash is checked last.
 */
export async function restoreExport(env: Env, key: string, options: { force: boolean; afterSection?: () => Promise<void> }): Promise<RestoreResult> {
  const { header, sections } = await openExport(env.BACKUP, key);
  const dirKey = await DirectoryKey.cached(env.DIRECTORY_KEY);
  if (header.keyId !== dirKey.id) {
    throw new RestoreError(
      409,
      "key_mismatch",
      `${key} was made with another DIRECTORY_KEY (id ${header.keyId}; this hub's is ${dirKey.id}): set the same secret on both hubs`,
    );
  }
  const db = env.DB;
  const failed = (await readState<RestoringState>(db, "restoring")) !== null;
  const guarded = !options.force && !failed;
  if (guarded && !(await directoryEmpty(db))) {
    throw new RestoreError(409, "not_empty", "The directory is not empty: restore into a hub with no domains, recipients, policies or edges");
  }
  const restoring: RestoringState = { key, startedAt: new Date().toISOString(), error: null };
  try {
    await db.batch([
      // The emptiness check again, inside the transaction: a write that slipped in since the check
      // above makes this insert break directory_changes' CHECK on kind, which aborts the batch.
      ...(guarded ? [db.prepare(`INSERT INTO directory_changes (kind) SELECT 'not-empty' WHERE ${DIRECTORY_NOT_EMPTY}`)] : []),
      writeStateStatement(db, "restoring", restoring),
      ...TABLES.map((t) => db.prepare(`DELETE FROM ${t}`)),
    ]);
  } catch (err) {
    if (guarded && /CHECK constraint/i.test(String(err))) {
      throw new RestoreError(
        409,
        "not_empty",
        "The directory was written to while restoring: restore into a hub with no domains, recipients, policies or edges",
      );
    }
    throw err;
  }
  let end: z.infer<typeof End> | null = null;
  const counts: ExportCounts = { domains: 0, recipients: 0, addresses: 0, policies: 0, edges: 0 };
  try {
    for await (const section of sections) {
      if (end !== null) throw invalid(key, "has lines after its end line");
      if ("end" in section) {
        end = section.end;
        continue;
      }
      const statements = sectionInserts(db, section);
      if (statements.length > 0) await db.batch(statements);
      for (const [name, rows] of Object.entries(section)) counts[name as keyof ExportCounts] += (rows as unknown[]).length;
      await options.afterSection?.();
    }
    if (end === null) throw invalid(key, "ends before its end line: it is cut short");
    const expected = end.counts;
    if ((Object.keys(counts) as (keyof ExportCounts)[]).some((k) => counts[k] !== expected[k])) {
      throw invalid(key, `holds other row counts than its end line says (${JSON.stringify(counts)}, not ${JSON.stringify(expected)})`);
    }
    await db.batch([
      db.prepare("DELETE FROM directory_changes"),
      db.prepare("DELETE FROM snapshots"),
      writeStateStatement(db, "applied", {
        key,
        hubId: header.hubId,
        root: end.root,
        contentHash: end.contentHash,
        createdAt: header.createdAt,
        appliedAt: new Date().toISOString(),
      }),
      db.prepare("DELETE FROM backup_state WHERE name = 'restoring'"),
    ]);
  } catch (err) {
    const mapped = err instanceof RestoreError || !/constraint/i.test(String(err)) ? err : invalid(key, `does not fit the directory's tables: ${String(err)}`);
    await writeState(db, "restoring", { ...restoring, error: mapped instanceof Error ? mapped.message : String(mapped) });
    throw mapped;
  }
  const verified = (await storedFullBuildRoot(db, dirKey)) === end.root;
  return { key, hubId: header.hubId, createdAt: header.createdAt, root: end.root, contentHash: end.contentHash, counts: end.counts, verified };
}
