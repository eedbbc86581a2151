import { describe, expect, it } from "vitest";
import { CsvParser, CsvSyntaxError, readCsv } from "../../workers/hub/api/csv.ts";

const OPTIONS = { maxRecordChars: 1024 };

/** Parses text pushed in pieces of `size` characters (every split point when size is 1). */
function parse(text: string, size = text.length || 1): string[][] {
  const parser = new CsvParser(OPTIONS);
  const records: string[][] = [];
  for (let i = 0; i < text.length; i += size) records.push(...parser.push(text.slice(i, i + size)));
  records.push(...parser.end());
  return records;
}

function stream(chunks: (string | number[])[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : new Uint8Array(chunk));
      controller.close();
    },
  });
}

async function collect(body: ReadableStream<Uint8Array>, options = OPTIONS): Promise<string[][]> {
  const records: string[][] = [];
  for await (const record of readCsv(body, options)) records.push(record);
  return records;
}

describe("CsvParser", () => {
  it.each<[string, string, string[][]]>([
    [
      "plain fields",
      "a,b,c\n1,2,3\n",
      [
        ["a", "b", "c"],
        ["1", "2", "3"],
      ],
    ],
    [
      "CRLF line ends",
      "a,b\r\n1,2\r\n",
      [
        ["a", "b"],
        ["1", "2"],
      ],
    ],
    [
      "lone CR line ends",
      "a,b\r1,2\r",
      [
        ["a", "b"],
        ["1", "2"],
      ],
    ],
    [
      "no line break after the last record",
      "a,b\n1,2",
      [
        ["a", "b"],
        ["1", "2"],
      ],
    ],
    ["empty fields", ",a,,\n", [["", "a", "", ""]]],
    ["quoted commas", '"a,b",c\n', [["a,b", "c"]]],
    ["doubled quotes", '"say ""hi""",x\n', [['say "hi"', "x"]]],
    ["quoted line breaks, CRLF and LF", '"one\r\ntwo\nthree",x\r\n', [["one\r\ntwo\nthree", "x"]]],
    ["an empty quoted field", '"",x\n', [["", "x"]]],
    ["a quote inside an unquoted field, kept as is", 'ab"c,d\n', [['ab"c', "d"]]],
    ["empty lines, skipped", "a\n\n\r\nb\n\n", [["a"], ["b"]]],
    ["a line of only a quoted empty field, kept", '""\n', [[""]]],
    ["non-ASCII text", "änne@exämple.com,ü\n", [["änne@exämple.com", "ü"]]],
    ["no input", "", []],
  ])("reads %s", (_, text, records) => {
    expect(parse(text)).toEqual(records);
  });

  it("gives the same records however the text is split, one character at a time included", () => {
    const text = 'address,aliases\r\n"a@x.test","b@x.test;\r\nc@x.test"\r\n"q""uote@x.test",\r\nplain@x.test,"d@x.test"\r\n';
    const whole = parse(text);
    expect(whole).toHaveLength(4);
    for (const size of [1, 2, 3, 5, 7, 16]) expect(parse(text, size)).toEqual(whole);
  });

  it.each<[string, string, RegExp]>([
    ["an unterminated quoted field", 'a\n"open,b\n', /line 3: a quoted field is not closed/],
    ["text after a closing quote", '"a"b,c\n', /line 1: a closing quote must be followed by a comma/],
    ["text after a closing quote on a later line", 'x\ny\n"a" ,c\n', /line 3:/],
  ])("refuses %s, naming the line", (_, text, message) => {
    expect(() => parse(text)).toThrow(CsvSyntaxError);
    expect(() => parse(text)).toThrow(message);
  });

  it("counts quoted line breaks when naming a line, however the text is split", () => {
    const text = '"a\r\nb\rc\nd"\n"x"y\n';
    for (const size of [1, 2, text.length]) expect(() => parse(text, size)).toThrow(/^line 5:/);
  });

  it("refuses a record longer than the limit, quoted line breaks included, and accepts one at the limit", () => {
    const parser = new CsvParser({ maxRecordChars: 10 });
    expect(parser.push("0123456789\n")).toEqual([["0123456789"]]);
    expect(() => new CsvParser({ maxRecordChars: 10 }).push('"01234\n56789"\n')).toThrow(/longer than 10 characters/);
    // An unterminated quote cannot pull the rest of the input into one field.
    const open = new CsvParser({ maxRecordChars: 10 });
    expect(() => {
      for (let i = 0; i < 100; i++) open.push('"aaaa\n');
    }).toThrow(CsvSyntaxError);
  });

  it("refuses a limit that is not a positive integer", () => {
    expect(() => new CsvParser({ maxRecordChars: 0 })).toThrow(RangeError);
    expect(() => new CsvParser({ maxRecordChars: Number.NaN })).toThrow(RangeError);
  });
});

describe("readCsv", () => {
  it("reads records from a byte stream, with multi-byte characters and CRLFs split across chunks", async () => {
    const bytes = new TextEncoder().encode("name,city\r\nZoë,Zürich\r\n");
    const chunks = Array.from(bytes, (b) => [b]);
    expect(await collect(stream(chunks))).toEqual([
      ["name", "city"],
      ["Zoë", "Zürich"],
    ]);
  });

  it("drops a leading byte-order mark", async () => {
    expect(await collect(stream([[0xef, 0xbb, 0xbf], "address\nx@y.test\n"]))).toEqual([["address"], ["x@y.test"]]);
  });

  it("refuses bytes that are not UTF-8, and a body that ends inside a character", async () => {
    await expect(collect(stream(["a\n", [0xff], "\n"]))).rejects.toThrow(/not valid UTF-8/);
    await expect(collect(stream(["a\n", [0xc3]]))).rejects.toThrow(/not valid UTF-8/);
  });

  it("yields records as chunks arrive, before the stream ends", async () => {
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        controller.enqueue(new TextEncoder().encode(`row${pulls}\n`));
        if (pulls === 1_000_000) controller.close();
      },
    });
    const records: string[][] = [];
    for await (const record of readCsv(body, OPTIONS)) {
      records.push(record);
      if (records.length === 3) break;
    }
    expect(records).toEqual([["row1"], ["row2"], ["row3"]]);
    expect(pulls).toBeLessThan(10);
  });
});
