import { createReadStream } from "node:fs";
import { open, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { MAX_IMPORT_JSON_BYTES, MAX_IMPORT_ROWS } from "../../shared/limits.ts";
import { UsageError } from "../output.ts";

/**
 * Rows per request. The API documents 100,000 rows a request (README, "Admin API"); a bigger file
 * is split by rows, each chunk with the header, so no request runs into the API's row limit or the
 * Worker's time limits, and a failure costs one chunk, not the whole import.
 */
export const IMPORT_CHUNK_ROWS = Math.min(100_000, MAX_IMPORT_ROWS);

/** Largest JSON request body: the API's limit less room for the brackets and separators. */
const JSON_CHUNK_BYTES = MAX_IMPORT_JSON_BYTES - 64 * 1024;

/** Largest JSON import file read into memory: JSON has to be parsed whole to be split. */
const MAX_JSON_FILE_BYTES = 512 * 1024 * 1024;

/** One record of a CSV file, as its text, and how far into the file reading has come. */
export interface CsvRecord {
  text: string;
  bytesRead: number;
}

/**
 * The records of a CSV file as they are read, without parsing their fields: a record ends at a line
 * break outside quotes (CRLF, LF or CR, as the API reads it), so quoted line breaks stay inside.
 * Empty lines are skipped, as the API skips them, so the rows are numbered the same way.
 */
export async function* csvRecords(file: string): AsyncGenerator<CsvRecord> {
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
export interface Chunk {
  body: Uint8Array;
  rows: number;
  contentType: string;
  /** How far into the file this chunk ends, in bytes: where the progress bar is once it is sent. */
  fileOffset: number;
}

/** Splits a CSV file into request bodies of at most IMPORT_CHUNK_ROWS records, each led by the header. */
export async function* csvChunks(file: string): AsyncGenerator<Chunk> {
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
export async function* jsonChunks(file: string, size: number): AsyncGenerator<Chunk> {
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

async function readHead(file: string, n: number): Promise<Uint8Array> {
  const handle = await open(file, "r");
  try {
    const { buffer, bytesRead } = await handle.read(new Uint8Array(n), 0, n, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function formatOf(file: string, flag: string | undefined, firstByte: number | undefined): ImportFormat {
  if (flag !== undefined) {
    if (flag !== "csv" && flag !== "json") throw new UsageError('--format must be "csv" or "json"');
    return flag;
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === ".csv") return "csv";
  if (ext === ".json") return "json";
  return firstByte === 0x5b ? "json" : "csv";
}

export type ImportFormat = "csv" | "json";

/**
 * An import file's size and format: `--format`, else its extension, else what it starts with past
 * white space and a byte order mark ("[" is JSON). Unreadable files are usage errors.
 */
export async function inspectImportFile(file: string, formatFlag: string | undefined): Promise<{ size: number; format: ImportFormat }> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new UsageError(`${file} is not a file`);
    const head = await readHead(file, 64);
    const firstByte = [...head].find((c) => ![0x20, 0x09, 0x0a, 0x0d, 0xef, 0xbb, 0xbf].includes(c));
    return { size: info.size, format: formatOf(file, formatFlag, firstByte) };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
