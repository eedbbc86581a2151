import { createReadStream } from "node:fs";
import { open, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { MAX_IMPORT_JSON_BYTES, MAX_IMPORT_ROWS } from "../../shared/limits.ts";
import { API_EXIT, type HubClient, HubApiError, HubUnreachableError } from "../api.ts";
import { bytes, count } from "../format.ts";
import { type Io, UsageError } from "../output.ts";
import { Progress } from "../progress.ts";
import { clean } from "../table.ts";

/**
 * Rows per request. The API documents 100,000 rows a request (README, "Admin API"); a bigger file
 * is split by rows, each chunk with the header, so no request runs into the API's row limit or the
 * Worker's time limits, and a failure costs one chunk, not the whole import.
 */
export const IMPORT_CHUNK_ROWS = Math.min(100_000, MAX_IMPORT_ROWS);

/** Largest JSON request body: the API's limit less room for the brackets and separators. */
const JSON_CHUNK_BYTES = MAX_IMPORT_JSON_BYTES - 64 * 1024;

/**
 * How long one chunk may take: 100,000 rows take about 15 s on a local stack; a remote D1 is slower,
 * and a chunk that is still being applied must not be cut off and counted as failed.
 */
const CHUNK_TIMEOUT_MS = 10 * 60_000;

/** How many row errors a summary lists (all of them are in --json output, up to what the API returns). */
const ERRORS_SHOWN = 10;

/** Most row errors kept in memory across chunks (the API itself reports at most 1,000 per request). */
const MAX_ERRORS_KEPT = 1_000;

/** Largest JSON import file read into memory: JSON has to be parsed whole to be split. */
const MAX_JSON_FILE_BYTES = 512 * 1024 * 1024;

/** A row the API refused, numbered from the file's first data row. */
interface RowError {
  row: number;
  address?: string;
  error: string;
}

/** What `POST /api/v1/recipients` answers. */
interface ChunkAnswer {
  created?: number;
  updated?: number;
  unchanged?: number;
  errors?: RowError[];
  errorsTruncated?: boolean;
}

export interface ImportSummary {
  file: string;
  format: "csv" | "json";
  rows: number;
  chunks: number;
  created: number;
  updated: number;
  unchanged: number;
  /** Rows refused, as far as the API reported them (see errorsTruncated). */
  errorCount: number;
  errors: RowError[];
  errorsTruncated: boolean;
}

/** One record of a CSV file, as its text, and how far into the file reading has come. */
interface CsvRecord {
  text: string;
  bytesRead: number;
}

/**
 * The records of a CSV file as they are read, without parsing their fields: a record ends at a line
 * break outside quotes (CRLF, LF or CR, as the API reads it), so quoted line breaks stay inside.
 * Empty lines are skipped, as the API skips them, so the rows are numbered the same way.
 */
async function* csvRecords(file: string): AsyncGenerator<CsvRecord> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let bytesRead = 0;
  let record = "";
  let quoted = false;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    bytesRead += chunk.byteLength;
    let text: string;
    try {
      text = decoder.decode(chunk, { stream: true });
    } catch {
      throw new UsageError(`${file} is not UTF-8 text`);
    }
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch === 0x22) quoted = !quoted;
      else if (!quoted && (ch === 0x0a || ch === 0x0d)) {
        // The LF of a CRLF ends an empty "record", skipped like any empty line.
        const piece = record + text.slice(start, i);
        record = "";
        start = i + 1;
        // Where this record ends in the file, counting the rest of this piece as one byte a character.
        if (piece !== "") yield { text: piece, bytesRead: Math.max(0, bytesRead - (text.length - start)) };
      }
    }
    record += text.slice(start);
  }
  if (record !== "") yield { text: record, bytesRead };
}

/** The lower-cased column names of a header line (quotes removed). */
function headerColumns(header: string): string[] {
  return header.split(",").map((c) => c.trim().replace(/^"|"$/g, "").trim().toLowerCase());
}

/**
 * One request's body, held in memory (one chunk at a time, never the whole file) so a chunk can be
 * sent again when the hub restarts or a concurrent change conflicts with it.
 */
interface Chunk {
  body: Uint8Array;
  rows: number;
  contentType: string;
  /** How far into the file this chunk ends, in bytes: where the progress bar is once it is sent. */
  fileOffset: number;
}

/** Splits a CSV file into request bodies of at most IMPORT_CHUNK_ROWS records, each led by the header. */
async function* csvChunks(file: string): AsyncGenerator<Chunk> {
  const records = csvRecords(file);
  const first = await records.next();
  if (first.done === true) throw new UsageError(`${file} is empty: it needs a header line (address,aliases,rejectInternet,sclOverride) and rows`);
  const header = first.value.text.replace(/^\uFEFF/, "");
  if (!headerColumns(header).includes("address")) {
    throw new UsageError(`${file}: the first line must be a header naming the columns, address among them: address,aliases,rejectInternet,sclOverride`);
  }
  let lines: string[] = [header];
  let fileOffset = 0;
  for await (const record of records) {
    lines.push(record.text);
    fileOffset = record.bytesRead;
    if (lines.length - 1 === IMPORT_CHUNK_ROWS) {
      yield { body: encoder.encode(`${lines.join("\n")}\n`), rows: lines.length - 1, contentType: "text/csv; charset=utf-8", fileOffset };
      lines = [header];
    }
  }
  if (lines.length > 1) yield { body: encoder.encode(`${lines.join("\n")}\n`), rows: lines.length - 1, contentType: "text/csv; charset=utf-8", fileOffset };
}

/** Splits a JSON array file into request bodies under the API's size and row limits. */
async function* jsonChunks(file: string, size: number): AsyncGenerator<Chunk> {
  if (size > MAX_JSON_FILE_BYTES) throw new UsageError(`${file} is larger than ${MAX_JSON_FILE_BYTES} bytes; import large directories as CSV`);
  let items: unknown;
  try {
    items = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!Array.isArray(items)) throw new UsageError(`${file} must hold a JSON array of recipients: [{"address": …, "aliases": […]}, …]`);
  let at = 0;
  while (at < items.length) {
    const parts: string[] = [];
    let length = 2;
    while (at < items.length && parts.length < IMPORT_CHUNK_ROWS) {
      const text = JSON.stringify(items[at]) ?? "null";
      if (parts.length > 0 && length + text.length + 1 > JSON_CHUNK_BYTES) break;
      parts.push(text);
      length += text.length + 1;
      at++;
    }
    // The file was read whole: progress in it is by items.
    yield {
      body: encoder.encode(`[${parts.join(",")}]`),
      rows: parts.length,
      contentType: "application/json",
      fileOffset: Math.round((at / items.length) * size),
    };
  }
}

const encoder = new TextEncoder();

/** Pieces a body is streamed in: the hub applies rows as they arrive, so what it has taken is how far the import is. */
const PIECE_BYTES = 64 * 1024;

/** A chunk's body as a stream that reports how many bytes the request has taken. */
function bodyStream(body: Uint8Array, onSent: (bytes: number) => void): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull: (controller) => {
      const end = Math.min(body.byteLength, at + PIECE_BYTES);
      controller.enqueue(body.slice(at, end));
      at = end;
      onSent(at);
      if (at >= body.byteLength) controller.close();
    },
  });
}

/**
 * Failures worth sending a chunk again for: no answer, a hub restarting (a deploy) or overloaded
 * (502/503/504), and the API's 409 for a concurrent change, which says to send the import again.
 * Sending again is safe: an import only ever sets recipients to what the file says.
 */
function transient(err: unknown): boolean {
  if (err instanceof HubUnreachableError) return true;
  return err instanceof HubApiError && ([502, 503, 504].includes(err.status) || (err.status === 409 && err.code === "conflict"));
}

/** Waits before each further attempt at a chunk. */
const RETRY_DELAYS_MS = [1_000, 3_000, 10_000];

async function sendChunk(client: HubClient, chunk: Chunk, progress: Progress, label: string, onSent: (bytes: number) => void): Promise<ChunkAnswer> {
  for (let attempt = 0; ; attempt++) {
    try {
      const body = bodyStream(chunk.body, onSent);
      return (await client.request<ChunkAnswer>("POST", "/recipients", { body, contentType: chunk.contentType, timeoutMs: CHUNK_TIMEOUT_MS })).body ?? {};
    } catch (err) {
      const delay = RETRY_DELAYS_MS[attempt];
      if (!transient(err) || delay === undefined) throw err;
      const why = err instanceof HubApiError ? `${err.status} ${err.code}` : err instanceof Error ? err.message : String(err);
      progress.note(`${label} failed (${why}); sending it again in ${delay / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

async function readHead(file: string, n: number): Promise<Uint8Array> {
  const handle = await open(file, "r");
  try {
    const { buffer, bytesRead } = await handle.read(new Uint8Array(n), 0, n, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function formatOf(file: string, flag: string | undefined, firstByte: number | undefined): "csv" | "json" {
  if (flag !== undefined) {
    if (flag !== "csv" && flag !== "json") throw new UsageError('--format must be "csv" or "json"');
    return flag;
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === ".csv") return "csv";
  if (ext === ".json") return "json";
  return firstByte === 0x5b ? "json" : "csv";
}

/** Explains, with a failed chunk's error, what was imported before it. */
function partial(err: unknown, done: ImportSummary): unknown {
  const note =
    done.rows === 0
      ? "Nothing was imported."
      : `Rows 1–${count(done.rows)} were imported before this (${count(done.created)} created, ${count(done.updated)} updated). Importing is idempotent: running the same command again is safe.`;
  if (err instanceof HubApiError) return new HubApiError(err.status, err.code, err.message, [...err.details, note]);
  if (err instanceof HubUnreachableError) return new HubUnreachableError(`${err.message}\n${note}`);
  return err;
}

/**
 * Imports a CSV or JSON file of recipients through `POST /api/v1/recipients`, a chunk at a time,
 * with progress on stderr and a summary on stdout. Exit 0 when every row was taken, 2 when the
 * API refused some rows (they are listed) or a whole chunk.
 */
export async function importRecipients(client: HubClient, io: Io, file: string, options: { json: boolean; format?: string }): Promise<number> {
  let size: number;
  let firstByte: number | undefined;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new UsageError(`${file} is not a file`);
    size = info.size;
    // What the file starts with, past white space and a byte order mark: "[" means JSON.
    const head = await readHead(file, 64);
    firstByte = [...head].find((c) => ![0x20, 0x09, 0x0a, 0x0d, 0xef, 0xbb, 0xbf].includes(c));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const format = formatOf(file, options.format, firstByte);
  const progress = new Progress(io, { json: options.json, totalBytes: size });
  const summary: ImportSummary = { file, format, rows: 0, chunks: 0, created: 0, updated: 0, unchanged: 0, errorCount: 0, errors: [], errorsTruncated: false };
  const started = Date.now();
  let fileDone = 0;
  progress.note(`Importing ${file} (${format.toUpperCase()}, ${bytes(size)}) in chunks of up to ${count(IMPORT_CHUNK_ROWS)} rows`);
  const chunks = format === "csv" ? csvChunks(file) : jsonChunks(file, size);
  try {
    for await (const chunk of chunks) {
      const firstRow = summary.rows + 1;
      const label = `chunk ${summary.chunks + 1} (rows ${count(firstRow)}–${count(summary.rows + chunk.rows)})`;
      const answer = await sendChunk(client, chunk, progress, label, (sent) => {
        const bytesDone = fileDone + Math.round((sent / chunk.body.byteLength) * (chunk.fileOffset - fileDone));
        const rows = summary.rows + Math.round((sent / chunk.body.byteLength) * chunk.rows);
        progress.update({ bytesDone, rows, label: sent < chunk.body.byteLength ? `sending ${label}` : `${label} sent, the hub is applying it` });
      });
      fileDone = chunk.fileOffset;
      summary.chunks++;
      summary.rows += chunk.rows;
      summary.created += answer.created ?? 0;
      summary.updated += answer.updated ?? 0;
      summary.unchanged += answer.unchanged ?? 0;
      const errors = Array.isArray(answer.errors) ? answer.errors : [];
      summary.errorCount += errors.length;
      if (answer.errorsTruncated === true) summary.errorsTruncated = true;
      for (const e of errors) {
        if (summary.errors.length < MAX_ERRORS_KEPT) summary.errors.push({ ...e, row: firstRow - 1 + e.row });
        else summary.errorsTruncated = true;
      }
      const percent = size > 0 ? Math.floor((Math.min(fileDone, size) / size) * 100) : 100;
      progress.update({ bytesDone: fileDone, rows: summary.rows, label: "" });
      progress.note(
        `${label} done, ${percent}% of the file: ${count(answer.created)} created, ${count(answer.updated)} updated, ${count(answer.unchanged)} unchanged, ${count(errors.length)} refused`,
      );
    }
  } catch (err) {
    progress.done();
    throw partial(err, summary);
  }
  progress.done();

  if (options.json) io.out(JSON.stringify(summary));
  else printSummary(io, summary, (Date.now() - started) / 1000);
  return summary.errorCount > 0 ? API_EXIT.refused : API_EXIT.ok;
}

function printSummary(io: Io, s: ImportSummary, seconds: number): void {
  io.out(`Imported ${s.file}: ${count(s.rows)} rows in ${count(s.chunks)} ${s.chunks === 1 ? "request" : "requests"} (${seconds.toFixed(1)} s)`);
  io.out(`  created    ${count(s.created)}`);
  io.out(`  updated    ${count(s.updated)}`);
  io.out(`  unchanged  ${count(s.unchanged)}`);
  io.out(`  errors     ${count(s.errorCount)}${s.errorsTruncated ? " (more were not reported)" : ""}`);
  if (s.errors.length === 0) return;
  io.out(`First errors (${s.format === "csv" ? "row 1 is the line after the header" : "row 1 is the array's first item"}):`);
  for (const e of s.errors.slice(0, ERRORS_SHOWN)) io.out(`  row ${count(e.row)}  ${clean(e.address)}  ${clean(e.error)}`);
  if (s.errors.length > ERRORS_SHOWN) io.out(`  … and ${count(s.errorCount - ERRORS_SHOWN)} more (--json lists them)`);
}
