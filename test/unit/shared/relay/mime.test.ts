import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import { encodeWords, foldHeader, formatMailbox, mimeParameter, quotedPrintable, rfc5322Date } from "../../../../shared/relay/mime.ts";

/** Decodes quoted-printable the way RFC 2045 §6.7 reads it: soft breaks removed, =XX as bytes. */
function decodeQp(text: string): string {
  const bytes: number[] = [];
  const joined = text.replace(/=\r\n/g, "");
  for (let i = 0; i < joined.length; i++) {
    if (joined[i] === "=") {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(joined.charCodeAt(i));
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

describe("quotedPrintable", () => {
  it.each([
    ["plain ASCII", "Hello, world", "Hello, world"],
    ["an equals sign", "a=b", "a=3Db"],
    ["UTF-8", "Grüße", "Gr=C3=BC=C3=9Fe"],
    ["trailing white space before a line end", "end \nnext\t", "end=20\r\nnext=09"],
    ["a dot opening a line", ".hidden\n.", "=2Ehidden\r\n=2E"],
    ["every kind of line end", "a\r\nb\nc\rd", "a\r\nb\r\nc\r\nd"],
  ])("encodes %s", (_what, input, expected) => {
    expect(quotedPrintable(input)).toBe(expected);
  });

  it("keeps lines within 76 characters and decodes back to the text", () => {
    const text = `${"long words ".repeat(30)}\n${"é".repeat(100)}\n${"=".repeat(80)}`;
    const encoded = quotedPrintable(text);
    for (const line of encoded.split("\r\n")) expect(line.length).toBeLessThanOrEqual(76);
    expect(decodeQp(encoded)).toBe(text.replace(/\n/g, "\r\n"));
  });
});

describe("header encoding", () => {
  it("leaves printable ASCII alone and encodes the rest as UTF-8 words within 75 characters", async () => {
    expect(encodeWords("Monthly report")).toBe("Monthly report");
    const long = "Grüße aus Köln — ".repeat(8);
    const encoded = encodeWords(long);
    for (const word of encoded.split(" ")) {
      expect(word).toMatch(/^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/);
      expect(word.length).toBeLessThanOrEqual(75);
    }
    const parsed = await PostalMime.parse(`Subject: ${foldHeader("Subject", encoded).slice("Subject: ".length)}\r\n`);
    expect(parsed.subject).toBe(long);
  });

  it.each([
    [{ address: "a@example.com" }, "a@example.com"],
    [{ name: "Reports", address: "a@example.com" }, "Reports <a@example.com>"],
    [{ name: "Doe, Jane", address: "a@example.com" }, '"Doe, Jane" <a@example.com>'],
    [{ name: 'Say "hi"', address: "a@example.com" }, '"Say \\"hi\\"" <a@example.com>'],
    [{ name: "Zoë", address: "a@example.com" }, "=?UTF-8?B?Wm/Dqw==?= <a@example.com>"],
  ])("formats the mailbox %j", (mailbox, expected) => {
    expect(formatMailbox(mailbox)).toBe(expected);
  });

  it("folds long fields at white space only, so unfolding restores the value", () => {
    const value = Array.from({ length: 20 }, (_, i) => `user${i}@example.com`).join(", ");
    const folded = foldHeader("To", value);
    expect(folded.endsWith("\r\n")).toBe(true);
    for (const line of folded.slice(0, -2).split("\r\n")) expect(line.length).toBeLessThanOrEqual(78);
    expect(folded.slice(0, -2).replace(/\r\n/g, "")).toBe(`To: ${value}`);
    expect(foldHeader("X-Long", "x".repeat(200))).toBe(`X-Long: ${"x".repeat(200)}\r\n`);
  });

  it("writes MIME parameters quoted, or RFC 2231-encoded beyond ASCII", () => {
    expect(mimeParameter("filename", 'a "b".pdf')).toBe('filename="a \\"b\\".pdf"');
    expect(mimeParameter("filename", "Übersicht 2026.pdf")).toBe("filename*=utf-8''%C3%9Cbersicht%202026.pdf");
  });

  it("writes dates in UTC as RFC 5322 has them", () => {
    expect(rfc5322Date(new Date("2026-11-21T09:05:03Z"))).toBe("Sat, 21 Nov 2026 09:05:03 +0000");
  });
});
