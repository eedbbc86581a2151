import { z } from "zod";
import { fromBase64 } from "../../../shared/base64.ts";
import { readBounded, TooLargeError } from "../../../shared/bytes.ts";
import { DirectoryKey } from "../../../shared/directory/hash.ts";
import { countsOf, type ExportCounts, type ExportDocument, readDirectory, rowsRoot } from "./export.ts";
import { EXPORT_FORMAT, EXPORT_MAX_JSON_BYTES, EXPORT_SCHEMA } from "./limits.ts";
import { writeStateStatement } from "./state.ts";

/** D1 allows at most 100 bound parameters in one statement. */
const MAX_PARAMS = 100;

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
const ExportSchema = z.object({
  format: z.literal(EXPORT_FORMAT),
  schema: z.number().int().positive(),
  hubId: text,
  createdAt: time,
  keyId: text,
  root: z.string().regex(/^[0-9a-f]{64}$/),
  contentHash: text,
  counts: z.object({ domains: z.number(), recipients: z.number(), addresses: z.number(), policies: z.number(), edges: z.number() }),
  domains: z.array(z.object({ name: text, route: text.nullable(), routeSecret: text.nullable(), createdAt: time })),
  recipients: z.array(
    z.object({
      address: text,
      domain: text,
      rejectInternet: z.boolean(),
      sclOverride: z.number().int().min(0).max(9).nullable(),
      createdAt: time,
      updatedAt: time.nullable(),
    }),
  ),
  addresses: z.array(z.object({ address: text, recipient: text, domain: text, hash: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/) })),
  policies: z.array(z.object({ name: text, body: text, updatedAt: time })),
  edges: z.array(z.object({ id: text, transport: z.enum(["binding", "https"]), binding: text.nullable(), url: text.nullable(), createdAt: time })),
});

/** Reads, decompresses and checks one export from BACKUP. */
export async function readExport(bucket: R2Bucket, key: string): Promise<ExportDocument> {
  if (!EXPORT_KEY.test(key)) throw new RestoreError(400, "invalid_key", "key must name an export: exports/<hub id>/<time>-<root>.json.gz");
  const object = await bucket.get(key);
  if (object === null) throw new RestoreError(404, "not_found", `No export ${key} in the backup bucket`);
  let json: unknown;
  try {
    const bytes = await readBounded(object.body.pipeThrough(new DecompressionStream("gzip")), EXPORT_MAX_JSON_BYTES);
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    if (err instanceof TooLargeError) throw new RestoreError(400, "invalid_export", `${key} decompresses to more than ${EXPORT_MAX_JSON_BYTES} bytes`);
    throw new RestoreError(400, "invalid_export", `${key} is not gzip'd JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof json === "object" && json !== null && "schema" in json && typeof json.schema === "number" && json.schema > EXPORT_SCHEMA) {
    throw new RestoreError(409, "newer_schema", `${key} comes from schema ${json.schema}; this hub knows up to ${EXPORT_SCHEMA}: upgrade it first`);
  }
  const parsed = ExportSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RestoreError(400, "invalid_export", `${key} is not a directory export: ${issue?.path.join(".") ?? ""} ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

/** Multi-row INSERTs of `rows`, as many rows per statement as D1's parameter limit allows. */
function inserts(db: D1Database, head: string, rows: unknown[][]): D1PreparedStatement[] {
  if (rows.length === 0) return [];
  const width = rows[0]!.length;
  const per = Math.floor(MAX_PARAMS / width);
  const tuple = `(${Array.from({ length: width }, () => "?").join(", ")})`;
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    statements.push(db.prepare(`${head} VALUES ${chunk.map(() => tuple).join(", ")}`).bind(...chunk.flat()));
  }
  return statements;
}

const DIRECTORY_NOT_EMPTY =
  "EXISTS (SELECT 1 FROM domains) OR EXISTS (SELECT 1 FROM recipients) OR EXISTS (SELECT 1 FROM policies) OR EXISTS (SELECT 1 FROM edges)";

/** True when the hub has no domains, recipients, policies or edges. */
export async function directoryEmpty(db: D1Database): Promise<boolean> {
  return (await db.prepare(`SELECT (${DIRECTORY_NOT_EMPTY}) AS used`).first<{ used: number }>())?.used === 0;
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

/**
 * Replaces the directory (domains, recipients, addresses, policies, edges) with an export's, in
 * one D1 batch: all of it or none of it. Without `force` the directory must be empty. The
 * snapshot history and change log are cleared in the same batch, so the next build is a full
 * one — and gives the export's root hash.
 */
export async function restoreExport(env: Env, key: string, options: { force: boolean }): Promise<RestoreResult> {
  const doc = await readExport(env.BACKUP, key);
  const dirKey = await DirectoryKey.cached(env.DIRECTORY_KEY);
  if (doc.keyId !== dirKey.id) {
    throw new RestoreError(
      409,
      "key_mismatch",
      `${key} was made with another DIRECTORY_KEY (id ${doc.keyId}; this hub's is ${dirKey.id}): set the same secret on both hubs`,
    );
  }
  if (!options.force && !(await directoryEmpty(env.DB))) {
    throw new RestoreError(409, "not_empty", "The directory is not empty: restore into a hub with no domains, recipients, policies or edges");
  }
  const db = env.DB;
  const statements: D1PreparedStatement[] = [
    // The emptiness check again, inside the transaction: a write that slipped in since the check
    // above makes this insert break directory_changes' CHECK on kind, which aborts the whole batch.
    ...(options.force ? [] : [db.prepare(`INSERT INTO directory_changes (kind) SELECT 'not-empty' WHERE ${DIRECTORY_NOT_EMPTY}`)]),
    db.prepare("DELETE FROM recipient_addresses"),
    db.prepare("DELETE FROM recipients"),
    db.prepare("DELETE FROM domains"),
    db.prepare("DELETE FROM policies"),
    db.prepare("DELETE FROM edges"),
    ...inserts(
      db,
      "INSERT INTO domains (name, route, route_secret, created_at)",
      doc.domains.map((d) => [d.name, d.route, d.routeSecret, d.createdAt]),
    ),
    ...inserts(
      db,
      "INSERT INTO recipients (address, domain, reject_internet, scl_override, created_at, updated_at)",
      doc.recipients.map((r) => [r.address, r.domain, r.rejectInternet ? 1 : 0, r.sclOverride, r.createdAt, r.updatedAt]),
    ),
    ...inserts(
      db,
      "INSERT INTO recipient_addresses (address, recipient, domain, hash)",
      doc.addresses.map((a) => [a.address, a.recipient, a.domain, fromBase64(a.hash)]),
    ),
    ...inserts(
      db,
      "INSERT INTO policies (name, body, updated_at)",
      doc.policies.map((p) => [p.name, p.body, p.updatedAt]),
    ),
    ...inserts(
      db,
      "INSERT INTO edges (id, transport, binding, url, created_at)",
      doc.edges.map((e) => [e.id, e.transport, e.binding, e.url, e.createdAt]),
    ),
    db.prepare("DELETE FROM directory_changes"),
    db.prepare("DELETE FROM snapshots"),
    writeStateStatement(db, "applied", {
      key,
      hubId: doc.hubId,
      root: doc.root,
      contentHash: doc.contentHash,
      createdAt: doc.createdAt,
      appliedAt: new Date().toISOString(),
    }),
  ];
  try {
    await db.batch(statements);
  } catch (err) {
    if (!options.force && /CHECK constraint/i.test(String(err))) {
      throw new RestoreError(
        409,
        "not_empty",
        "The directory was written to while restoring: restore into a hub with no domains, recipients, policies or edges",
      );
    }
    if (/constraint/i.test(String(err))) throw new RestoreError(400, "invalid_export", `${key} does not fit the directory's tables: ${String(err)}`);
    throw err;
  }
  const after = await readDirectory(db);
  const verified = (await rowsRoot(after, dirKey)) === doc.root;
  return { key, hubId: doc.hubId, createdAt: doc.createdAt, root: doc.root, contentHash: doc.contentHash, counts: countsOf(doc), verified };
}
