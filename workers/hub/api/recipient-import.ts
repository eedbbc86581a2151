import type { Context } from "hono";
import { readBounded, TooLargeError } from "../../../shared/bytes.ts";
import { normaliseAddress } from "../../../shared/directory/address.ts";
import { DirectoryKey } from "../../../shared/directory/hash.ts";
import {
  IMPORT_BATCH_ADDRESSES,
  MAX_ADDRESS_LENGTH,
  MAX_ALIASES_PER_RECIPIENT,
  MAX_IMPORT_ERRORS,
  MAX_IMPORT_JSON_BYTES,
  MAX_IMPORT_RECORD_CHARS,
  MAX_IMPORT_ROWS,
} from "../../../shared/limits.ts";
import type { HubEnv } from "../app.ts";
import { ImportConflictError, RecipientImporter, type RecipientUpsert, type RowError } from "../db/recipients.ts";
import { requestSync } from "../sync/trigger.ts";
import { noteChange } from "./audit.ts";
import { CsvSyntaxError, readCsv } from "./csv.ts";
import { ApiError } from "./errors.ts";

/**
 * Bulk recipient imports (POST /api/v1/recipients): a JSON array read whole (up to
 * MAX_IMPORT_JSON_BYTES), or CSV read as it streams in, applied in batches as rows arrive. Each row
 * is checked on its own: a bad row is reported and the others are applied.
 */

/** The columns of an import, in CSV header order; JSON items use the same names. */
const COLUMNS = ["address", "aliases", "rejectInternet", "sclOverride"] as const;
type Column = (typeof COLUMNS)[number];

/** An import row's fields before normalisation; undefined fields keep their stored value. */
interface RowFields {
  address: string;
  aliases?: string[];
  rejectInternet?: boolean;
  sclOverride?: number | null;
}

type ImportRow = RecipientUpsert | RowError;

export interface ImportSummary {
  created: number;
  updated: number;
  unchanged: number;
  errors: RowError[];
  errorsTruncated?: true;
}

/** The directory key, or a 503 that says which secret is missing. */
function hashingKey(env: Env): Promise<DirectoryKey> {
  return DirectoryKey.cached(env.DIRECTORY_KEY).catch(() => {
    throw new ApiError(503, "not_configured", "Recipients cannot be written: set the DIRECTORY_KEY secret.");
  });
}

/** Echoes input in an error, bounded so a hostile row cannot grow the answer. */
function clip(text: string): string {
  return text.length > MAX_ADDRESS_LENGTH ? `${text.slice(0, MAX_ADDRESS_LENGTH)}…` : text;
}

function rowError(row: number, address: string, error: string): RowError {
  return { row, address: clip(address), error };
}

/** Normalises a row's addresses; the checks against D1 (domains, owners) come later, per batch. */
function normaliseRow(row: number, fields: RowFields): ImportRow {
  const address = normaliseAddress(fields.address);
  if (address === null) return rowError(row, fields.address, "not a valid address");
  const upsert: RecipientUpsert = { row, address };
  if (fields.aliases !== undefined) {
    if (fields.aliases.length > MAX_ALIASES_PER_RECIPIENT) return rowError(row, address, `more than ${MAX_ALIASES_PER_RECIPIENT} aliases`);
    const aliases = new Set<string>();
    for (const raw of fields.aliases) {
      const alias = normaliseAddress(raw);
      if (alias === null) return rowError(row, address, `alias "${clip(raw)}" is not a valid address`);
      if (alias !== address) aliases.add(alias);
    }
    upsert.aliases = [...aliases];
  }
  if (fields.rejectInternet !== undefined) upsert.rejectInternet = fields.rejectInternet;
  if (fields.sclOverride !== undefined) upsert.sclOverride = fields.sclOverride;
  return upsert;
}

function isScl(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 9;
}

/** One item of a JSON import. */
function jsonRow(row: number, item: unknown): ImportRow {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return rowError(row, "", "each item must be an object");
  const fields = item as Record<string, unknown>;
  if (typeof fields.address !== "string") return rowError(row, "", "address must be a string");
  const address = fields.address;
  const unknown = Object.keys(fields).find((k) => !(COLUMNS as readonly string[]).includes(k));
  if (unknown !== undefined) return rowError(row, address, `unknown field "${clip(unknown)}"`);
  const out: RowFields = { address };
  if ("aliases" in fields) {
    if (!Array.isArray(fields.aliases) || !fields.aliases.every((a) => typeof a === "string"))
      return rowError(row, address, "aliases must be an array of addresses");
    out.aliases = fields.aliases as string[];
  }
  if ("rejectInternet" in fields) {
    if (typeof fields.rejectInternet !== "boolean") return rowError(row, address, "rejectInternet must be true or false");
    out.rejectInternet = fields.rejectInternet;
  }
  if ("sclOverride" in fields) {
    if (fields.sclOverride !== null && !isScl(fields.sclOverride)) return rowError(row, address, "sclOverride must be an integer from 0 to 9, or null");
    out.sclOverride = fields.sclOverride;
  }
  return normaliseRow(row, out);
}

export async function* jsonRows(c: Context<HubEnv>): AsyncGenerator<ImportRow> {
  if (Number(c.req.header("content-length")) > MAX_IMPORT_JSON_BYTES) {
    throw new ApiError(413, "payload_too_large", `A JSON import is limited to ${MAX_IMPORT_JSON_BYTES} bytes; send larger imports as text/csv.`);
  }
  let bytes: Uint8Array = new Uint8Array(0);
  try {
    if (c.req.raw.body !== null) bytes = await readBounded(c.req.raw.body, MAX_IMPORT_JSON_BYTES);
  } catch (err) {
    if (!(err instanceof TooLargeError)) throw err;
    throw new ApiError(413, "payload_too_large", `A JSON import is limited to ${MAX_IMPORT_JSON_BYTES} bytes; send larger imports as text/csv.`);
  }
  let items: unknown;
  try {
    items = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch (err) {
    throw new ApiError(400, "bad_request", `The body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!Array.isArray(items)) throw new ApiError(400, "bad_request", "The body must be a JSON array of recipients.");
  if (items.length > MAX_IMPORT_ROWS) throw new ApiError(413, "payload_too_large", `An import is limited to ${MAX_IMPORT_ROWS} rows.`);
  for (let i = 0; i < items.length; i++) yield jsonRow(i + 1, items[i]);
}

const TRUE = new Set(["true", "1", "yes"]);
const FALSE = new Set(["false", "0", "no", ""]);

/** Which field holds each column, from the header line; 400 for a header this format cannot read. */
function csvColumns(header: string[]): Map<Column, number> {
  const columns = new Map<Column, number>();
  header.forEach((raw, i) => {
    const column = COLUMNS.find((name) => name.toLowerCase() === raw.trim().toLowerCase());
    if (column === undefined) throw new ApiError(400, "bad_request", `Unknown CSV column "${clip(raw)}"; the columns are ${COLUMNS.join(",")}.`);
    if (columns.has(column)) throw new ApiError(400, "bad_request", `The CSV column ${column} appears twice.`);
    columns.set(column, i);
  });
  if (!columns.has("address"))
    throw new ApiError(400, "bad_request", `The CSV must start with a header line naming its columns (${COLUMNS.join(",")}), address included.`);
  return columns;
}

/** One record of a CSV import: aliases separated by `;`, booleans true/false/1/0/yes/no, an empty sclOverride for none. */
function csvRow(row: number, record: string[], columns: Map<Column, number>): ImportRow {
  const cell = (column: Column): string | undefined => {
    const i = columns.get(column);
    return i === undefined ? undefined : record[i];
  };
  const address = cell("address") ?? "";
  if (record.length !== columns.size) return rowError(row, address, `expected ${columns.size} fields, found ${record.length}`);
  const fields: RowFields = { address };
  const aliases = cell("aliases");
  if (aliases !== undefined) fields.aliases = aliases.split(";").filter((a) => a.trim() !== "");
  const reject = cell("rejectInternet")?.trim().toLowerCase();
  if (reject !== undefined) {
    if (!TRUE.has(reject) && !FALSE.has(reject)) return rowError(row, address, "rejectInternet must be true, false, 1, 0, yes or no");
    fields.rejectInternet = TRUE.has(reject);
  }
  const scl = cell("sclOverride")?.trim();
  if (scl !== undefined) {
    if (scl !== "" && !/^\d$/.test(scl)) return rowError(row, address, "sclOverride must be an integer from 0 to 9, or empty");
    fields.sclOverride = scl === "" ? null : Number(scl);
  }
  return normaliseRow(row, fields);
}

/** The rows of a CSV import, read as the body streams in; rows are numbered from the first record after the header. */
export async function* csvRows(c: Context<HubEnv>): AsyncGenerator<ImportRow> {
  const body = c.req.raw.body as ReadableStream<Uint8Array> | null;
  let columns: Map<Column, number> | null = null;
  let row = 0;
  if (body !== null) {
    for await (const record of readCsv(body, { maxRecordChars: MAX_IMPORT_RECORD_CHARS })) {
      if (columns === null) {
        columns = csvColumns(record);
        continue;
      }
      if (++row > MAX_IMPORT_ROWS) throw new ApiError(413, "payload_too_large", `An import is limited to ${MAX_IMPORT_ROWS} rows.`);
      yield csvRow(row, record, columns);
    }
  }
  if (columns === null) csvColumns([]);
}

/**
 * Applies import rows in batches as they arrive: a batch ends when it holds IMPORT_BATCH_ADDRESSES
 * addresses, or before a row repeating an address of the batch (so a later row wins, as it would
 * one row at a time). Row errors come back in row order, the first MAX_IMPORT_ERRORS of them.
 */
export async function runImport(c: Context<HubEnv>, rows: AsyncIterable<ImportRow>): Promise<ImportSummary> {
  const key = await hashingKey(c.env);
  const importer = new RecipientImporter(c.env.DB, (address) => key.hashAddress(address));
  const summary: ImportSummary = { created: 0, updated: 0, unchanged: 0, errors: [] };
  let batch: ImportRow[] = [];
  const inBatch = new Set<string>();
  let addresses = 0;
  let processed = 0;
  const flush = async (): Promise<void> => {
    const outcome = await importer.apply(batch.filter((r): r is RecipientUpsert => !("error" in r)));
    summary.created += outcome.created;
    summary.updated += outcome.updated;
    summary.unchanged += outcome.unchanged;
    const errors = [...batch.filter((r): r is RowError => "error" in r), ...outcome.errors].sort((a, b) => a.row - b.row);
    for (const error of errors) {
      if (summary.errors.length < MAX_IMPORT_ERRORS) summary.errors.push(error);
      else summary.errorsTruncated = true;
    }
    processed += batch.length;
    batch = [];
    inBatch.clear();
    addresses = 0;
  };
  try {
    for await (const row of rows) {
      const weight = "error" in row ? 1 : 1 + (row.aliases?.length ?? 0);
      if (batch.length > 0 && (addresses + weight > IMPORT_BATCH_ADDRESSES || (!("error" in row) && inBatch.has(row.address)))) await flush();
      batch.push(row);
      addresses += weight;
      if (!("error" in row)) inBatch.add(row.address);
    }
    await flush();
  } catch (err) {
    const done = `The first ${processed} rows were processed; the import can be sent again whole.`;
    if (err instanceof CsvSyntaxError) throw new ApiError(400, "bad_request", `Malformed CSV at ${err.message}. ${done}`);
    if (err instanceof ImportConflictError) throw new ApiError(409, "conflict", `A concurrent change conflicted with this import (${err.message}). ${done}`);
    if (err instanceof ApiError && processed > 0) throw new ApiError(err.status, err.code, `${err.message} ${done}`);
    throw err;
  } finally {
    if (summary.created + summary.updated > 0) {
      requestSync(c.env, c.executionCtx);
      noteChange(
        c,
        `imported recipients: ${summary.created} created, ${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.errors.length} rejected`,
      );
    }
  }
  return summary;
}
