import PostalMime, { type Email } from "postal-mime";
import { describe, expect, it } from "vitest";
import {
  buildDsn,
  DsnError,
  type DsnInput,
  MAX_DIAGNOSTIC_CHARS,
  MAX_DSN_RECIPIENTS,
  MAX_ORIGINAL_HEADER_BYTES,
  MAX_SUBJECT_CHARS,
  mayNotifySender,
} from "../../shared/delivery/dsn.ts";

const ORIGINAL = [
  "Received: from mail.example.org by mx.example.com; Tue, 03 Mar 2026 09:05:00 +0000",
  "From: Alice <alice@example.org>",
  "To: bob@example.com",
  "Subject: Quarterly figures",
  "Message-ID: <q1@example.org>",
  "",
  "SECRET-BODY the body is never echoed",
].join("\r\n");

function input(overrides: Partial<DsnInput> = {}): DsnInput {
  return {
    kind: "delayed",
    reportingMta: "mx.example.com",
    from: "postmaster@example.com",
    envelopeFrom: "alice@example.org",
    recipients: ["bob@example.com", "carol@example.com"],
    originalHeaders: ORIGINAL,
    originalMessageId: "<q1@example.org>",
    arrivalDate: new Date("2026-03-03T09:05:00Z"),
    lastAttemptDate: new Date("2026-03-03T13:05:00Z"),
    willRetryUntil: new Date("2026-03-05T09:05:00Z"),
    diagnostic: "no hub took the message: hub-1 answered 503",
    envelopeId: "0b7e3c1a-5f43-4d2b-9a61-2f9c8d7e6b5a",
    now: new Date("2026-03-03T13:05:01Z"),
    messageIdDomain: "example.com",
    ...overrides,
  };
}

const text = (raw: Uint8Array) => new TextDecoder().decode(raw);
const parse = (raw: Uint8Array) => PostalMime.parse(raw, { attachmentEncoding: "utf8" });

/** The parts' content types, the human text excepted (postal-mime gives it as `text`). */
function attachment(email: Email, mimeType: string): string {
  const found = email.attachments.find((a) => a.mimeType === mimeType);
  if (found === undefined || typeof found.content !== "string") throw new Error(`no ${mimeType} part`);
  return found.content;
}

/** The delivery-status part as blocks of fields (RFC 3464 §2.1: groups separated by blank lines), folds unfolded. */
function statusBlocks(email: Email): Map<string, string>[] {
  return attachment(email, "message/delivery-status")
    .replace(/\r?\n[ \t]+/g, " ")
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim() !== "")
    .map((block) => new Map(block.split(/\r?\n/).map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()])));
}

/** Every line ends in CRLF, is at most 998 octets, and every byte is 7-bit. */
function expectWellFormedLines(raw: Uint8Array): void {
  expect(raw.every((b) => b > 0 && b < 0x80)).toBe(true);
  const lines = text(raw).split("\r\n");
  expect(lines.at(-1)).toBe("");
  for (const line of lines) {
    expect(line).not.toMatch(/[\r\n]/);
    expect(line.length).toBeLessThanOrEqual(998);
  }
}

describe("buildDsn", () => {
  it("builds a delay notice as multipart/report with a text, a delivery-status and the original headers", async () => {
    const { raw, messageId } = buildDsn(input());
    const email = await parse(raw);
    const header = (key: string) => email.headers.find((h) => h.key === key)?.value;
    expect(header("content-type")).toMatch(/^multipart\/report; report-type=delivery-status; boundary="[^"]+"$/);
    expect(header("auto-submitted")).toBe("auto-replied");
    expect(header("mime-version")).toBe("1.0");
    expect(header("date")).toBe("Tue, 03 Mar 2026 13:05:01 +0000");
    expect(email.from).toEqual({ name: "Mail Delivery System", address: "postmaster@example.com" });
    expect(email.to).toEqual([{ name: "", address: "alice@example.org" }]);
    expect(email.subject).toBe("Delivery delayed: Quarterly figures");
    expect(email.messageId).toBe(messageId);
    expect(messageId).toMatch(/^<[0-9a-f-]{36}@example\.com>$/);
    expect(email.inReplyTo).toBe("<q1@example.org>");

    const boundary = /boundary="([^"]+)"/.exec(header("content-type")!)![1]!;
    expect(text(raw).split(`\r\n--${boundary}\r\n`)).toHaveLength(4);
    expect(text(raw).endsWith(`\r\n--${boundary}--\r\n`)).toBe(true);
    expect(email.attachments.map((a) => a.mimeType)).toEqual(["message/delivery-status", "text/rfc822-headers"]);
    expect(email.html).toBeUndefined();
    expect(email.text).toContain("has not been delivered yet");
    expect(email.text).toContain("bob@example.com");
    expect(email.text).toContain("carol@example.com");
    expect(email.text).toContain("until Thu, 05 Mar 2026 09:05:00 +0000");
    expect(email.text).toContain("hub-1 answered 503");
    expectWellFormedLines(raw);
  });

  it("reports per message and per recipient with RFC 3464 fields, Status 4.4.1 while delayed", async () => {
    const [message, ...recipients] = statusBlocks(await parse(buildDsn(input()).raw));
    expect(Object.fromEntries(message!)).toEqual({
      "Reporting-MTA": "dns; mx.example.com",
      "Original-Envelope-Id": "0b7e3c1a-5f43-4d2b-9a61-2f9c8d7e6b5a",
      "Arrival-Date": "Tue, 03 Mar 2026 09:05:00 +0000",
    });
    expect(recipients.map((r) => Object.fromEntries(r))).toEqual(
      ["bob@example.com", "carol@example.com"].map((address) => ({
        "Final-Recipient": `rfc822; ${address}`,
        Action: "delayed",
        Status: "4.4.1",
        "Diagnostic-Code": "smtp; 451 4.4.1 no hub took the message: hub-1 answered 503",
        "Last-Attempt-Date": "Tue, 03 Mar 2026 13:05:00 +0000",
        "Will-Retry-Until": "Thu, 05 Mar 2026 09:05:00 +0000",
      })),
    );
  });

  it("reports a final failure as Undeliverable with Status 5.4.7 and no Will-Retry-Until", async () => {
    const email = await parse(buildDsn(input({ kind: "failed", envelopeId: undefined })).raw);
    expect(email.subject).toBe("Undeliverable: Quarterly figures");
    expect(email.text).toContain("could not be delivered");
    expect(email.text).toContain("has given up");
    expect(email.text).not.toContain("Retrying until");
    const [message, ...recipients] = statusBlocks(email);
    expect(message!.has("Original-Envelope-Id")).toBe(false);
    expect(recipients).toHaveLength(2);
    for (const r of recipients) {
      expect(r.get("Action")).toBe("failed");
      expect(r.get("Status")).toBe("5.4.7");
      expect(r.get("Diagnostic-Code")).toMatch(/^smtp; 554 5\.4\.7 /);
      expect(r.has("Will-Retry-Until")).toBe(false);
    }
  });

  it("attaches the original header block but never the body", async () => {
    const email = await parse(buildDsn(input()).raw);
    const headers = attachment(email, "text/rfc822-headers");
    expect(headers).toContain("Message-ID: <q1@example.org>");
    expect(headers).toContain("Subject: Quarterly figures");
    expect(headers).not.toContain("SECRET-BODY");
    expect(text(buildDsn(input()).raw)).not.toContain("SECRET-BODY");
  });

  it("caps the attached headers and says so", async () => {
    const huge = Array.from({ length: 2_000 }, (_, i) => `X-Filler-${i}: ${"y".repeat(60)}`).join("\r\n");
    const { raw } = buildDsn(input({ originalHeaders: `Subject: big\r\n${huge}` }));
    const email = await parse(raw);
    const headers = attachment(email, "text/rfc822-headers");
    expect(new TextEncoder().encode(headers).byteLength).toBeLessThanOrEqual(MAX_ORIGINAL_HEADER_BYTES);
    expect(headers).toMatch(/^Subject: big\r?\nX-Filler-0: /);
    expect(headers).not.toContain("X-Filler-1999");
    expect(email.text).toContain(`first ${MAX_ORIGINAL_HEADER_BYTES} bytes`);
    expectWellFormedLines(raw);
  });

  it("keeps UTF-8 and over-long original header lines intact through quoted-printable", async () => {
    const long = `X-Long: ${"ä".repeat(700)}`;
    const { raw } = buildDsn(input({ originalHeaders: `Subject: Grüße\r\n${long}` }));
    expect(text(raw)).toContain("Content-Transfer-Encoding: quoted-printable");
    expect(attachment(await parse(raw), "text/rfc822-headers")).toContain(long);
    expectWellFormedLines(raw);
  });

  it("encodes a non-ASCII subject with RFC 2047 and decodes an encoded one first", async () => {
    const plain = buildDsn(input({ kind: "failed", originalHeaders: "Subject: Grüße aus Köln 👋\r\n" })).raw;
    expect(text(plain)).toMatch(/^Subject: Undeliverable:\r?\n? ?=\?UTF-8\?B\?/m);
    expect((await parse(plain)).subject).toBe("Undeliverable: Grüße aus Köln 👋");
    const encoded = buildDsn(input({ originalHeaders: "Subject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\n" })).raw;
    expect((await parse(encoded)).subject).toBe("Delivery delayed: Grüße");
    expectWellFormedLines(plain);
  });

  it("keeps a subject that only looks like an encoded word as text", async () => {
    const literal = "=?utf-8?B?SGk=?=";
    const { raw } = buildDsn(input({ originalHeaders: `Subject: =?utf-8?B?${btoa(literal)}?=\r\n` }));
    expect((await parse(raw)).subject).toBe(`Delivery delayed: ${literal}`);
  });

  it("writes the diagnostic as printable ASCII", async () => {
    const email = await parse(buildDsn(input({ diagnostic: "Zeitüberschreitung\tbeim\u0000Hub 👋" })).raw);
    expect(statusBlocks(email)[1]!.get("Diagnostic-Code")).toBe("smtp; 451 4.4.1 Zeit?berschreitung beim Hub ?");
  });

  it("caps a long subject and a long diagnostic", async () => {
    const subject = "word ".repeat(1_000);
    const { raw } = buildDsn(input({ originalHeaders: `Subject: ${subject}\r\n`, diagnostic: "x".repeat(10_000) }));
    const email = await parse(raw);
    expect(email.subject).toBe(`Delivery delayed: ${subject.slice(0, MAX_SUBJECT_CHARS)}...`);
    const code = statusBlocks(email)[1]!.get("Diagnostic-Code")!;
    expect(code).toBe(`smtp; 451 4.4.1 ${"x".repeat(MAX_DIAGNOSTIC_CHARS)}...`);
    expect(email.text).toContain(`${"x".repeat(MAX_DIAGNOSTIC_CHARS)}...`);
    expect(email.text).not.toContain("x".repeat(MAX_DIAGNOSTIC_CHARS + 1));
    expectWellFormedLines(raw);
  });

  it("leaves no way to inject a header through the diagnostic, the subject or a recipient", async () => {
    const { raw } = buildDsn(
      input({
        diagnostic: "failed\r\nBcc: victim@example.net\r\n\r\nInjected body",
        originalHeaders: "Subject: =?utf-8?Q?hi=0D=0ABcc:_victim@example.net?=\r\n",
        recipients: ["bob@example.com\r\nBcc: victim@example.net", "dave@example.com\nX-Injected: 1"],
      }),
    );
    const email = await parse(raw);
    expect(email.headers.map((h) => h.key)).toEqual([
      "date",
      "from",
      "to",
      "subject",
      "message-id",
      "in-reply-to",
      "references",
      "auto-submitted",
      "mime-version",
      "content-type",
      "content-transfer-encoding",
    ]);
    expect(email.bcc).toBeUndefined();
    expect(email.subject).toBe("Delivery delayed: hi Bcc: victim@example.net");
    expect(statusBlocks(email)[1]!.get("Diagnostic-Code")).toBe("smtp; 451 4.4.1 failed Bcc: victim@example.net Injected body");
    expect(text(raw)).not.toMatch(/^(Bcc|X-Injected|Injected body)/m);
    const [, ...recipients] = statusBlocks(email);
    expect(recipients.map((r) => [...r.keys()])).toEqual(
      [0, 1].map(() => ["Final-Recipient", "Action", "Status", "Diagnostic-Code", "Last-Attempt-Date", "Will-Retry-Until"]),
    );
    expect(recipients[0]!.get("Final-Recipient")).toBe("utf-8; bob@example.com\\x{D}\\x{A}Bcc:\\x{20}victim@example.net");
    expectWellFormedLines(raw);
  });

  it("writes an internationalised recipient as the RFC 6533 utf-8 type", async () => {
    const email = await parse(buildDsn(input({ recipients: ["jürgen@example.de"] })).raw);
    expect(statusBlocks(email)[1]!.get("Final-Recipient")).toBe("utf-8; j\\x{FC}rgen@example.de");
  });

  it("names at most MAX_DSN_RECIPIENTS recipients and counts the rest", async () => {
    const recipients = Array.from({ length: MAX_DSN_RECIPIENTS + 50 }, (_, i) => `user${i}@example.com`);
    const email = await parse(buildDsn(input({ recipients })).raw);
    expect(statusBlocks(email)).toHaveLength(1 + MAX_DSN_RECIPIENTS);
    expect(email.text).toContain("... and 50 more");
  });

  it.each<[string, Partial<DsnInput>]>([
    ["an envelope sender with CR/LF", { envelopeFrom: "alice@example.org\r\nBcc: victim@example.net" }],
    ["a From address with CR/LF", { from: "postmaster@example.com\r\nBcc: victim@example.net" }],
    ["the null sender", { envelopeFrom: "<>" }],
    ["a reporting MTA with CR/LF", { reportingMta: "mx.example.com\r\nBcc: x" }],
    ["a Message-ID domain with a space", { messageIdDomain: "example.com x" }],
    ["an invalid date", { lastAttemptDate: new Date(Number.NaN) }],
    ["no recipients", { recipients: [] }],
    ["an over-long envelope id", { envelopeId: "e".repeat(101) }],
  ])("refuses %s", (_, overrides) => {
    expect(() => buildDsn(input(overrides))).toThrow(DsnError);
  });

  it("leaves out In-Reply-To for a malformed original Message-ID, and the subject when there is none", async () => {
    const email = await parse(buildDsn(input({ originalMessageId: "<a b@c>\r\nBcc: x", originalHeaders: "From: a@example.org\r\n" })).raw);
    expect(email.inReplyTo).toBeUndefined();
    expect(email.subject).toBe("Delivery delayed");
  });

  it("gives every notification its own Message-ID", () => {
    expect(buildDsn(input()).messageId).not.toBe(buildDsn(input()).messageId);
  });

  it("marks its own notifications so that they are never answered with another", () => {
    const raw = text(buildDsn(input()).raw);
    const headerBlock = raw.slice(0, raw.indexOf("\r\n\r\n") + 2);
    expect(mayNotifySender("alice@example.org", headerBlock)).toMatchObject({ ok: false, reason: "auto_submitted" });
    // Even a relay that strips Auto-Submitted leaves the multipart/report.
    const stripped = headerBlock.replace(/^Auto-Submitted: [^\r\n]*\r\n/m, "");
    expect(stripped).not.toContain("Auto-Submitted");
    expect(mayNotifySender("alice@example.org", stripped)).toMatchObject({ ok: false, reason: "report" });
  });
});

describe("mayNotifySender", () => {
  const headers = "From: alice@example.org\r\nSubject: hello\r\n";
  it.each([
    ["", headers, "null_sender"],
    ["<>", headers, "null_sender"],
    [" < > ", headers, "null_sender"],
    ["alice@example.org\r\nBcc: x@example.net", headers, "invalid_sender"],
    ["jürgen@example.de", headers, "invalid_sender"],
    ["no-at-sign", headers, "invalid_sender"],
    ["MAILER-DAEMON@example.org", headers, "mailer_daemon"],
    ["<mailer-daemon@example.org>", headers, "mailer_daemon"],
    ["alice@example.org", `${headers}Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n`, "report"],
    ["alice@example.org", `${headers}Content-Type: Multipart/Report;\r\n\treport-type="disposition-notification"\r\n`, "report"],
    ["alice@example.org", `${headers}Auto-Submitted: auto-generated\r\n`, "auto_submitted"],
    ["alice@example.org", `${headers}Auto-Submitted: Auto-Replied (vacation)\r\n`, "auto_submitted"],
    ["alice@example.org", `${headers}Auto-Submitted: auto-notified; owner-email="a@b"\r\n`, "auto_submitted"],
    ["alice@example.org", `${headers}Precedence: bulk\r\n`, "precedence"],
    ["alice@example.org", `${headers}Precedence: List\r\n`, "precedence"],
    ["alice@example.org", `${headers}Precedence: junk\n`, "precedence"],
  ])("refuses %j with %j as %s", (sender, original, reason) => {
    expect(mayNotifySender(sender, original)).toMatchObject({ ok: false, reason });
  });

  it.each([
    ["alice@example.org", headers],
    ["<alice@example.org>", headers],
    // RFC 5321 §4.5.1: postmaster is a mailbox people read.
    ["postmaster@example.org", headers],
    // List bounce addresses want to hear about failures (VERP bounce processing).
    ["list-bounces+bob=example.com@lists.example.org", headers],
    ["alice@example.org", `${headers}Auto-Submitted: no\r\n`],
    ["alice@example.org", `${headers}Auto-Submitted: No (a person wrote this)\r\n`],
    ["alice@example.org", `${headers}Precedence: first-class\r\n`],
    ["alice@example.org", `${headers}Content-Type: multipart/mixed; boundary=x\r\n`],
    // Only the header block counts: the same words in the body are text.
    ["alice@example.org", `${headers}\r\nAuto-Submitted: auto-generated\r\nPrecedence: bulk\r\n`],
  ])("notifies %j with %j", (sender, original) => {
    expect(mayNotifySender(sender, original)).toEqual({ ok: true });
  });
});
