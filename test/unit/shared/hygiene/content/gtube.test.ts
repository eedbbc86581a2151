import { zlibSync } from "fflate";
import { describe, expect, it } from "vitest";
import { toBase64 } from "../../../../../shared/base64.ts";
import { findGtube, GTUBE } from "../../../../../shared/hygiene/content/gtube.ts";
import { InflateBudgetError, inflateBounded } from "../../../../../shared/hygiene/content/inflate.ts";
import { MAX_CMAP_ENTRIES, parseCMap } from "../../../../../shared/hygiene/content/pdf-cmap.ts";
import { pdfText } from "../../../../../shared/hygiene/content/pdf-text.ts";
import { parseMessage } from "../../../../../shared/hygiene/parse.ts";
import { GTUBE_PDF_MAX_BYTES } from "../../../../../shared/limits.ts";
import { readCorpus } from "../../../../helpers/corpus.ts";
import { bytesOf } from "../../../../helpers/mail.ts";

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const base64 = (bytes: Uint8Array) => toBase64(bytes).replace(/.{76}/g, "$&\r\n");

/** A message with one base64 attachment. */
function withAttachment(type: string, filename: string, content: Uint8Array): Uint8Array {
  return bytesOf(
    [
      "From: a@sender.example",
      "To: alice@example.com",
      "Subject: files",
      'Content-Type: multipart/mixed; boundary="b"',
      "",
      "--b",
      "Content-Type: text/plain",
      "",
      "see attached",
      "--b",
      `Content-Type: ${type}; name="${filename}"`,
      "Content-Transfer-Encoding: base64",
      `Content-Disposition: attachment; filename="${filename}"`,
      "",
      base64(content),
      "--b--",
      "",
    ].join("\r\n"),
  );
}

async function gtubeIn(raw: Uint8Array): Promise<string | null> {
  const parsed = await parseMessage(raw);
  if (!parsed.ok) throw new Error("test message did not parse");
  return findGtube(parsed.email);
}

/** A one-page PDF whose content stream shows `text` with Tj, deflated unless told otherwise. */
function pdf(text: string, options: { deflate?: boolean; padding?: number } = {}): Uint8Array {
  const content = `BT /F1 12 Tf 72 720 Td (${text}) Tj ET`;
  const stream = options.deflate === false ? latin1(content) : zlibSync(latin1(content));
  const filter = options.deflate === false ? "" : " /Filter /FlateDecode";
  const head = `%PDF-1.4\n1 0 obj\n<< /Length ${stream.length}${filter} >>\nstream\n`;
  const tail = `\nendstream\nendobj\n%${"x".repeat(options.padding ?? 0)}\n%%EOF\n`;
  const head8 = latin1(head);
  const tail8 = latin1(tail);
  const out = new Uint8Array(head8.length + stream.length + tail8.length);
  out.set(head8);
  out.set(stream, head8.length);
  out.set(tail8, head8.length + stream.length);
  return out;
}

describe("findGtube", () => {
  it("finds the string in the text, and in a text attachment whatever its declared type", async () => {
    expect(await gtubeIn(bytesOf(`From: a@b.example\r\nSubject: t\r\n\r\nprefix ${GTUBE} suffix\r\n`))).toBe("text");
    expect(await gtubeIn(withAttachment("text/plain", "notes.txt", latin1(GTUBE)))).toBe("attachment notes.txt");
    expect(await gtubeIn(withAttachment("application/octet-stream", "data.bin", latin1(`plain text ${GTUBE}`)))).toBe("attachment data.bin");
  });

  it("does not read binary attachments or take prose about GTUBE for the string", async () => {
    const binary = Uint8Array.from([0, 1, 2, 3, ...latin1(GTUBE)]);
    expect(await gtubeIn(withAttachment("application/octet-stream", "blob.bin", binary))).toBeNull();
    expect(await gtubeIn(await readCorpus("hostile/gtube/sa-not_gtube.eml"))).toBeNull();
    expect(await gtubeIn(bytesOf(`From: a@b.example\r\nSubject: t\r\n\r\n${GTUBE.slice(0, -1)}\r\n`))).toBeNull();
  });

  it("finds the string in a PDF's text, deflated or not, up to the PDF size limit", async () => {
    expect(await gtubeIn(withAttachment("application/pdf", "a.pdf", pdf(GTUBE)))).toBe("pdf a.pdf");
    expect(await gtubeIn(withAttachment("application/octet-stream", "b.dat", pdf(GTUBE, { deflate: false })))).toBe("pdf b.dat");
    expect(await gtubeIn(withAttachment("application/pdf", "big.pdf", pdf(GTUBE, { padding: GTUBE_PDF_MAX_BYTES })))).toBeNull();
  });

  it("reads the PDF of the GTUBE corpus through its font's ToUnicode map", async () => {
    const parsed = await parseMessage(await readCorpus("hostile/gtube/sa-gtube_pdf.eml"));
    if (!parsed.ok) throw new Error("did not parse");
    const attachment = parsed.email.attachments.find((a) => a.mimeType === "application/pdf")!;
    const text = pdfText(new Uint8Array(attachment.content as ArrayBuffer));
    expect(text).toContain("This is the GTUBE");
    expect(text).toContain(GTUBE);
  });
});

describe("PDF text", () => {
  it("maps glyph codes through bfchar and bfrange entries", () => {
    const cmap = parseCMap(
      "begincodespacerange <0000> <FFFF> endcodespacerange 1 beginbfchar <0001> <0048> endbfchar 1 beginbfrange <0010> <0012> <0061> endbfrange 1 beginbfrange <0020> <0021> [<0078> <0079>] endbfrange",
    );
    expect(cmap.bytes).toBe(2);
    expect([1, 0x10, 0x11, 0x12, 0x20, 0x21].map((c) => cmap.map.get(c))).toEqual(["H", "a", "b", "c", "x", "y"]);
  });

  it(`keeps at most ${MAX_CMAP_ENTRIES} mappings however large the ranges claim to be`, () => {
    const cmap = parseCMap(`begincodespacerange <0000> <FFFF> endcodespacerange beginbfrange ${"<0000> <FFFF> <0041> ".repeat(100)} endbfrange`);
    expect(cmap.map.size).toBe(MAX_CMAP_ENTRIES);
  });

  it("inflates no more than its budget from a PDF holding a decompression bomb", () => {
    const bomb = zlibSync(new Uint8Array(16 * 1024 * 1024));
    const file = new Uint8Array([
      ...latin1(`%PDF-1.4\n1 0 obj\n<< /Length ${bomb.length} /Filter /FlateDecode >>\nstream\n`),
      ...bomb,
      ...latin1("\nendstream\nendobj\n"),
    ]);
    expect(pdfText(file)).toBe("");
  });

  it("reads TJ arrays and escaped literal strings", () => {
    const content = "BT /F1 9 Tf [(Hel) -20 (lo\\051 \\(w\\157rld)] TJ ET";
    const file = latin1(`%PDF-1.4\n1 0 obj\n<< /Length ${content.length} >>\nstream\n${content}\nendstream\nendobj\n`);
    expect(pdfText(file)).toContain("Hello) (world");
  });

  it("gives up on damaged input without throwing", () => {
    expect(pdfText(latin1("%PDF-1.4\n1 0 obj\n<< /Filter /FlateDecode >>\nstream\nnot deflate at all\nendstream\nendobj\n"))).toBe("");
    expect(pdfText(new Uint8Array(1000).fill(0x3c))).toBe("");
  });
});

describe("inflateBounded", () => {
  it("inflates within the budget and stops a decompression bomb at it", () => {
    const data = latin1("hello ".repeat(1000));
    expect(inflateBounded(zlibSync(data), 10_000)).toEqual(data);
    const bomb = zlibSync(new Uint8Array(16 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(20_000);
    expect(() => inflateBounded(bomb, 1024 * 1024)).toThrow(InflateBudgetError);
  });
});
