import { API_EXIT, type HubClient, HubApiError, HubUnreachableError } from "../api.ts";
import { bytes, count } from "../format.ts";
import type { Io } from "../output.ts";
import { Progress } from "../progress.ts";
import { clean } from "../table.ts";
import { type Chunk, csvChunks, IMPORT_CHUNK_ROWS, type ImportFormat, inspectImportFile, jsonChunks } from "./import-chunks.ts";

/**
 * How long one chunk may take: 100,000 rows take about 15 s on a local stack; a remote D1 is slower,
 * and a chunk that is still being applied must not be cut off and counted as failed.
 */
const CHUNK_TIMEOUT_MS = 10 * 60_000;

/** How many row errors a summary lists (all of them are in --json output, up to what the API returns). */
const ERRORS_SHOWN = 10;

/** Most row errors kept in memory across chunks (the API itself reports at most 1,000 per request). */
const MAX_ERRORS_KEPT = 1_000;

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
  format: ImportFormat;
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
  const { size, format } = await inspectImportFile(file, options.format);
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
