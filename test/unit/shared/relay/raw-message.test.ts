import { describe, expect, it } from "vitest";
import { senderAllowed, checkAddress, parseMailbox } from "../../../../shared/relay/addresses.ts";
import { RelayError } from "../../../../shared/relay/errors.ts";
import { crlfLineEnds, prepareRawMessage } from "../../../../shared/relay/raw-message.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const NOW = new Date("2026-11-21T09:00:00Z");

const raw = (...lines: string[]) => enc.encode(lines.join("\r\n"));

function refusal(run: () => unknown): { status: number; code: string } {
  try {
    run();
  } catch (err) {
    if (err instanceof RelayError) return { status: err.status, code: err.code };
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("crlfLineEnds", () => {
  it.each([
    ["a\r\nb", "a\r\nb"],
    ["a\nb\n", "a\r\nb\r\n"],
    ["a\rb", "a\r\nb"],
    ["\n\r\n\r", "\r\n\r\n\r\n"],
  ])("%j → %j", (input, expected) => {
    expect(dec.decode(crlfLineEnds(enc.encode(input)))).toBe(expected);
  });

  it("returns the same bytes when every line end is already CRLF", () => {
    const bytes = enc.encode("a\r\nb\r\n");
    expect(crlfLineEnds(bytes)).toBe(bytes);
  });
});

describe("prepareRawMessage", () => {
  it("takes the recipients from To, Cc and Bcc, each once, takes Bcc out and adds Message-ID and Date", () => {
    const prepared = prepareRawMessage(
      raw(
        "From: App <app@example.com>",
        "To: a@example.com, B <b@example.com>",
        "Cc: A@Example.com",
        "Bcc: hidden@example.org,",
        " other@example.org",
        "Subject: x",
        "",
        "body",
        "",
      ),
      NOW,
    );
    expect(prepared.recipients).toEqual(["a@example.com", "b@example.com", "hidden@example.org", "other@example.org"]);
    expect(prepared.from).toEqual({ name: "App", address: "app@example.com" });
    expect(prepared.added).toEqual({ messageId: true, date: true, bccRemoved: true });
    const text = dec.decode(prepared.raw);
    expect(text).toMatch(/^Message-ID: <[0-9a-f-]{36}@example\.com>\r\nDate: Sat, 21 Nov 2026 09:00:00 \+0000\r\nFrom: /);
    expect(text).not.toMatch(/Bcc|hidden|other@/);
    expect(text.endsWith("\r\n\r\nbody\r\n")).toBe(true);
  });

  it("keeps a message that needs nothing added byte for byte, and the to list overrides the header", () => {
    const bytes = raw("From: app@example.com", "To: list@example.com", "Date: Sat, 21 Nov 2026 09:00:00 +0000", "Message-ID: <x@example.com>", "", "hi");
    const prepared = prepareRawMessage(bytes, NOW, ["alice@example.com"]);
    expect(prepared.raw).toBe(bytes);
    expect(prepared.messageId).toBe("<x@example.com>");
    expect(prepared.recipients).toEqual(["alice@example.com"]);
  });

  it.each([
    ["no From", raw("To: a@example.com", "", "x"), "invalid_message"],
    ["two From fields", raw("From: a@example.com", "From: b@example.com", "To: a@example.com", "", "x"), "invalid_message"],
    ["a From group of two", raw("From: a@example.com, b@example.com", "To: a@example.com", "", "x"), "invalid_message"],
    ["two Message-ID fields", raw("From: a@example.com", "To: a@example.com", "Message-ID: <1@x>", "Message-ID: <2@x>", "", "x"), "invalid_message"],
    ["a line that is no field", raw("From: a@example.com", "To a@example.com", "", "x"), "invalid_message"],
    ["a continuation first", raw(" From: a@example.com", "", "x"), "invalid_message"],
    ["a NUL in the header", raw("From: a@example.com", "X-A: \0", "", "x"), "invalid_message"],
    ["no recipient", raw("From: a@example.com", "Subject: x", "", "x"), "no_recipients"],
    ["an unusable recipient", raw("From: a@example.com", "To: not-an-address", "", "x"), "invalid_recipient"],
  ])("refuses %s (400)", (_what, bytes, code) => {
    expect(refusal(() => prepareRawMessage(bytes, NOW))).toEqual({ status: 400, code });
  });

  it("reads line ends a Unix file has, so a field hidden behind a bare CR is seen as the field it becomes", () => {
    const prepared = prepareRawMessage(enc.encode("From: app@example.com\nTo: a@example.com\rBcc: b@example.com\n\nbody\n"), NOW);
    expect(prepared.recipients).toEqual(["a@example.com", "b@example.com"]);
    expect(dec.decode(prepared.raw)).not.toMatch(/Bcc/);
  });
});

describe("addresses", () => {
  it.each([
    ["app@example.com", true],
    ["first.last+tag@mail.example.co.uk", true],
    ["a b@example.com", false],
    ['"quoted"@example.com', false],
    ["app@localhost", false],
    ["app@[192.0.2.1]", false],
    ["app@exämple.com", false],
    ["@example.com", false],
    ["app@example.com\r\nBcc: x@y.z", false],
  ])("checkAddress(%j) → %s", (address, ok) => {
    expect(checkAddress(address) !== null).toBe(ok);
  });

  it("parses mailboxes with and without names", () => {
    expect(parseMailbox("app@example.com")).toEqual({ address: "app@example.com" });
    expect(parseMailbox(" Reports <app@example.com> ")).toEqual({ name: "Reports", address: "app@example.com" });
    expect(parseMailbox('"Doe, Jane" <jane@example.com>')).toEqual({ name: "Doe, Jane", address: "jane@example.com" });
    expect(parseMailbox("Reports <not an address>")).toBeNull();
  });

  it.each([
    ["app@example.com", ["@example.com"], true],
    ["App@EXAMPLE.com", ["app@example.com"], true],
    ["app@mail.example.com", ["@example.com"], false],
    ["other@example.com", ["app@example.com"], false],
    ["app@example.com", [], false],
  ])("senderAllowed(%j, %j) → %s", (address, patterns, ok) => {
    expect(senderAllowed(address, patterns)).toBe(ok);
  });
});

describe("prepareRawMessage with groups", () => {
  it("reads an empty group as no recipients there, and a named group's members as recipients", () => {
    const prepared = prepareRawMessage(raw("From: a@example.com", "To: undisclosed-recipients:;", "Bcc: Team: x@example.com, y@example.com;", "", "x"), NOW);
    expect(prepared.recipients).toEqual(["x@example.com", "y@example.com"]);
  });
});
