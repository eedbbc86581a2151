/**
 * A streaming CSV reader (RFC 4180): records come out as the bytes come in, so a body of any size
 * is read with the memory of one chunk and one record. Pure: no Workers APIs beyond web streams.
 */

/** Input that is not well-formed CSV (or not UTF-8). `line` is the 1-based physical line it was found on. */
export class CsvSyntaxError extends Error {
  readonly line: number;

  constructor(message: string, line: number) {
    super(`line ${line}: ${message}`);
    this.name = "CsvSyntaxError";
    this.line = line;
  }
}

export interface CsvReaderOptions {
  /** Longest record accepted, in characters, quoted line breaks included (line terminators excluded). */
  maxRecordChars: number;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;

/** Parser states. */
const State = {
  /** At the start of a field: a quote here opens a quoted field. */
  FieldStart: 0,
  Unquoted: 1,
  Quoted: 2,
  /** Just read a quote inside a quoted field: either an escaped quote or the field's end. */
  QuoteInQuoted: 3,
} as const;
type State = (typeof State)[keyof typeof State];

/**
 * Incremental CSV parser: push text in pieces of any size (a record, a quote pair or a CRLF may be
 * split across pieces), take the completed records out. Records end at CRLF, LF or a lone CR;
 * quoted fields may hold commas, line breaks and doubled quotes. Empty lines are skipped.
 *
 * @example
 * const parser = new CsvParser({ maxRecordChars: 1024 });
 * parser.push('a,"b,\r'); // []
 * parser.push('\nc"\r\nd'); // [["a", "b,\r\nc"]]
 * parser.end(); // [["d"]]
 */
export class CsvParser {
  readonly #maxRecordChars: number;
  #state: State = State.FieldStart;
  #fields: string[] = [];
  #field = "";
  #recordChars = 0;
  #line = 1;
  /** The previous piece ended a line with CR: a leading LF in the next piece belongs to it. */
  #afterCR = false;
  /** The previous piece ended with a CR inside a quoted field, not yet counted as a line break. */
  #quotedCR = false;
  #out: string[][] = [];

  constructor(options: CsvReaderOptions) {
    if (!Number.isInteger(options.maxRecordChars) || options.maxRecordChars < 1) throw new RangeError("maxRecordChars must be a positive integer");
    this.#maxRecordChars = options.maxRecordChars;
  }

  /** The physical line the parser is on (1-based). */
  get line(): number {
    return this.#line;
  }

  /** Parses the next piece of text; returns the records it completed. */
  push(text: string): string[][] {
    const n = text.length;
    let i = 0;
    while (i < n) {
      const ch = text.charCodeAt(i);
      if (this.#quotedCR) {
        this.#quotedCR = false;
        if (ch !== LF) this.#line++;
      }
      if (this.#afterCR) {
        this.#afterCR = false;
        if (ch === LF) {
          i++;
          continue;
        }
      }
      switch (this.#state) {
        case State.FieldStart:
        case State.Unquoted: {
          if (ch === QUOTE && this.#state === State.FieldStart) {
            this.#count(1);
            this.#state = State.Quoted;
            i++;
          } else if (ch === COMMA || ch === CR || ch === LF) {
            i = this.#separator(text, i);
          } else {
            // A run of ordinary characters; a quote inside an unquoted field is kept as it is.
            let j = i + 1;
            while (j < n) {
              const c = text.charCodeAt(j);
              if (c === COMMA || c === CR || c === LF) break;
              j++;
            }
            this.#count(j - i);
            this.#field += text.slice(i, j);
            this.#state = State.Unquoted;
            i = j;
          }
          break;
        }
        case State.Quoted: {
          let j = i;
          while (j < n && text.charCodeAt(j) !== QUOTE) {
            const c = text.charCodeAt(j);
            if (c === LF) this.#line++;
            else if (c === CR) {
              // CRLF counts once, at its LF; a CR at the end of the piece waits for the next one.
              if (j + 1 === n) this.#quotedCR = true;
              else if (text.charCodeAt(j + 1) !== LF) this.#line++;
            }
            j++;
          }
          this.#count(j - i);
          this.#field += text.slice(i, j);
          if (j < n) {
            this.#count(1);
            this.#state = State.QuoteInQuoted;
            j++;
          }
          i = j;
          break;
        }
        case State.QuoteInQuoted: {
          if (ch === QUOTE) {
            this.#count(1);
            this.#field += '"';
            this.#state = State.Quoted;
            i++;
          } else if (ch === COMMA || ch === CR || ch === LF) {
            i = this.#separator(text, i);
          } else {
            throw new CsvSyntaxError("a closing quote must be followed by a comma or the end of the line", this.#line);
          }
          break;
        }
      }
    }
    return this.#take();
  }

  /** Ends the input; returns the last record, if the text did not end with a line break. */
  end(): string[][] {
    if (this.#state === State.Quoted) throw new CsvSyntaxError("a quoted field is not closed", this.#line);
    if (this.#recordChars > 0 || this.#fields.length > 0) this.#endRecord();
    return this.#take();
  }

  /** A comma ends the field, a line break the record; returns the position after it. */
  #separator(text: string, i: number): number {
    if (text.charCodeAt(i) !== COMMA) {
      const next = this.#endLine(text, i);
      this.#endRecord();
      return next;
    }
    this.#count(1);
    this.#fields.push(this.#field);
    this.#field = "";
    this.#state = State.FieldStart;
    return i + 1;
  }

  #count(chars: number): void {
    this.#recordChars += chars;
    if (this.#recordChars > this.#maxRecordChars) throw new CsvSyntaxError(`a record is longer than ${this.#maxRecordChars} characters`, this.#line);
  }

  /** Consumes the line break at `i` (CR, LF or CRLF, possibly split across pieces); returns the next index. */
  #endLine(text: string, i: number): number {
    this.#line++;
    if (text.charCodeAt(i) === LF) return i + 1;
    if (i + 1 < text.length) return text.charCodeAt(i + 1) === LF ? i + 2 : i + 1;
    this.#afterCR = true;
    return i + 1;
  }

  #endRecord(): void {
    const empty = this.#recordChars === 0 && this.#fields.length === 0;
    this.#fields.push(this.#field);
    if (!empty) this.#out.push(this.#fields);
    this.#fields = [];
    this.#field = "";
    this.#recordChars = 0;
    this.#state = State.FieldStart;
  }

  #take(): string[][] {
    const out = this.#out;
    this.#out = [];
    return out;
  }
}

/**
 * Reads CSV records from a byte stream as they arrive (UTF-8; a leading byte-order mark is
 * dropped). Throws CsvSyntaxError for malformed CSV or bytes that are not UTF-8. Stopping early
 * cancels the stream.
 *
 * @example
 * for await (const record of readCsv(request.body, { maxRecordChars: 65536 })) console.log(record);
 */
export async function* readCsv(body: ReadableStream<Uint8Array>, options: CsvReaderOptions): AsyncGenerator<string[]> {
  const parser = new CsvParser(options);
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  const reader = body.getReader();
  let finished = false;
  const decode = (bytes?: Uint8Array): string => {
    try {
      return bytes === undefined ? decoder.decode() : decoder.decode(bytes, { stream: true });
    } catch {
      throw new CsvSyntaxError("the body is not valid UTF-8", parser.line);
    }
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.push(decode(value));
    }
    finished = true;
    yield* parser.push(decode());
    yield* parser.end();
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
