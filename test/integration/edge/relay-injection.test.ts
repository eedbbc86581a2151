import PostalMime from "postal-mime";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { storedBySubject } from "../../helpers/delivery.ts";
import { migrateHub } from "../../helpers/hub.ts";
import { capturingSender, relay, relayClient, relayRequest, storedRaw, useRelay } from "../../helpers/relay.ts";

beforeAll(async () => {
  await migrateHub();
});

beforeEach(async () => {
  await useRelay([await relayClient()]);
});

const ATTACHMENT = { filename: "report.pdf", content: btoa("%PDF-1.4 not much of a report"), contentType: "application/pdf" };

/** A message using every JSON field, with a unique subject. */
function full(): Record<string, unknown> & { subject: string } {
  return {
    from: "App <app@example.com>",
    sender: { name: "Relay", address: "relay@example.com" },
    to: ["alice@example.com", { name: "Bob", address: "bob@example.com" }],
    cc: "carol@partner.example",
    bcc: ["dave@partner.example"],
    replyTo: "helpdesk@example.com",
    subject: `injection ${crypto.randomUUID()}`,
    text: "Line one\r\nBcc: not a header, body text\n",
    html: "<p>Hello\r\n</p>",
    attachments: [{ ...ATTACHMENT }, { filename: "logo.png", content: btoa("\x89PNG\r\n\x1a\n"), contentType: "image/png", contentId: "logo@example.com" }],
    headers: { "X-Ticket": "4711", "In-Reply-To": "<thread@example.com>" },
  };
}

/** Sets a value at a path ("to.1.name", "headers.X-Ticket") in a copy of the message. */
function withValue(message: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(message);
  const keys = path.split(".");
  let at: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[keys.at(-1)!] = value;
  return copy;
}

const INJECTIONS = ["\r\nBcc: victim@evil.example", "\nX-Injected: yes", "\rX-Injected: yes", "value\r\n\r\n<html>new body</html>"];

const FIELDS: [string, (payload: string) => unknown][] = [
  ["from", (p) => `app@example.com${p}`],
  ["from (display name)", (p) => ({ name: `App${p}`, address: "app@example.com" })],
  ["sender", (p) => ({ name: "Relay", address: `relay@example.com${p}` })],
  ["to.0", (p) => `alice@example.com${p}`],
  ["to.1.name", (p) => `Bob${p}`],
  ["cc", (p) => `carol@partner.example${p}`],
  ["bcc.0", (p) => `dave@partner.example${p}`],
  ["replyTo", (p) => `helpdesk@example.com${p}`],
  ["subject", (p) => `Monthly report${p}`],
  ["attachments.0.filename", (p) => `report${p}.pdf`],
  ["attachments.0.contentType", (p) => `application/pdf${p}`],
  ["attachments.1.contentId", (p) => `logo@example.com${p}`],
  ["attachments.0.content", (p) => `${btoa("data")}${p}`],
  ["headers.X-Ticket", (p) => `4711${p}`],
];

describe("relay: header injection is impossible", () => {
  it("relays the full message, with every field where it belongs and nothing else", async () => {
    const m = full();
    const sender = capturingSender();
    const result = await relay(relayRequest(m), { sendEmail: sender.send });
    expect(result.status).toBe(200);
    expect(result.body.recipients?.map((r) => [r.address, r.status])).toEqual([
      ["alice@example.com", "delivered"],
      ["bob@example.com", "delivered"],
      ["carol@partner.example", "sent"],
      ["dave@partner.example", "sent"],
    ]);
    const { raw } = await storedRaw(m.subject);
    const text = new TextDecoder().decode(raw);
    const head = text.slice(0, text.indexOf("\r\n\r\n"));
    const names = head
      .split("\r\n")
      .filter((line) => !/^[ \t]/.test(line))
      .map((line) => line.slice(0, line.indexOf(":")).toLowerCase());
    expect(names.filter((n) => !n.startsWith("x-portcullis-"))).toEqual([
      "from",
      "sender",
      "to",
      "cc",
      "reply-to",
      "subject",
      "date",
      "message-id",
      "mime-version",
      "x-ticket",
      "in-reply-to",
      "content-type",
    ]);
    const parsed = await PostalMime.parse(raw);
    expect(parsed.from).toMatchObject({ name: "App", address: "app@example.com" });
    expect(parsed.sender).toMatchObject({ name: "Relay", address: "relay@example.com" });
    expect(parsed.to?.map((a) => a.address)).toEqual(["alice@example.com", "bob@example.com"]);
    expect(parsed.cc?.map((a) => a.address)).toEqual(["carol@partner.example"]);
    expect(parsed.bcc).toBeUndefined();
    expect(parsed.replyTo?.map((a) => a.address)).toEqual(["helpdesk@example.com"]);
    expect(parsed.subject).toBe(m.subject);
    expect(parsed.inReplyTo).toBe("<thread@example.com>");
    expect(parsed.text?.trimEnd()).toBe("Line one\nBcc: not a header, body text");
    expect(parsed.html?.trim()).toBe("<p>Hello\n</p>");
    // The inline image is related to the HTML; the attachment follows in multipart/mixed.
    expect(parsed.attachments.map((a) => [a.filename, a.mimeType, a.contentId ?? null, a.disposition])).toEqual([
      ["logo.png", "image/png", "<logo@example.com>", "inline"],
      ["report.pdf", "application/pdf", null, "attachment"],
    ]);
    expect(new TextDecoder().decode(parsed.attachments[1]!.content as ArrayBuffer)).toBe("%PDF-1.4 not much of a report");
    expect(sender.sent.map((s) => s.to)).toEqual(["carol@partner.example", "dave@partner.example"]);
    const sentHead = new TextDecoder().decode(sender.sent[0]!.raw).split("\r\n\r\n")[0]!;
    expect(sentHead).not.toMatch(/^Bcc:/im);
    expect(sentHead).not.toContain("dave@partner.example");
  });

  for (const [field, make] of FIELDS) {
    it.each(INJECTIONS.map((p) => [JSON.stringify(p), p]))(`refuses a line break in ${field} (%s) with 400, and sends nothing`, async (_shown, payload) => {
      const m = full();
      const sender = capturingSender();
      const result = await relay(relayRequest(withValue(m, field.replace(" (display name)", ""), make(payload))), { sendEmail: sender.send });
      expect(result.status).toBe(400);
      expect(result.body.error?.code).toBe("header_injection");
      expect(result.body.error?.message).toMatch(new RegExp(`^${field.replace(" (display name)", "").replace(/\./g, "\\.")}`));
      expect(sender.sent).toHaveLength(0);
      expect(await storedBySubject(m.subject)).toBe(0);
    });
  }

  it("refuses a line break in an extra header's name", async () => {
    const m = full();
    const result = await relay(relayRequest({ ...m, headers: { "X-A\r\nBcc": "victim@evil.example" } }));
    expect(result.status).toBe(400);
    expect(result.body.error?.code).toBe("header_injection");
    expect(await storedBySubject(m.subject)).toBe(0);
  });

  it("refuses other control characters in header fields, and a field name that is not one", async () => {
    for (const body of [
      { ...full(), subject: "bell\u0007" },
      { ...full(), headers: { "X-Bad Name": "1" } },
      { ...full(), headers: { "X-Colon:": "1" } },
    ]) {
      const result = await relay(relayRequest(body));
      expect(result.status).toBe(400);
      expect(result.body.error?.code).toBe("invalid_message");
    }
  });

  it("encodes text beyond ASCII in headers rather than writing it raw", async () => {
    const m = { ...full(), subject: `Grüße — ${crypto.randomUUID()}`, from: { name: "Zoë, Reports", address: "app@example.com" } };
    expect((await relay(relayRequest(m))).status).toBe(200);
    const { raw } = await storedRaw(m.subject);
    const head = new TextDecoder().decode(raw).split("\r\n\r\n")[0]!;
    expect(head).toMatch(/^[\x00-\x7f]*$/);
    const parsed = await PostalMime.parse(raw);
    expect(parsed.subject).toBe(m.subject);
    expect(parsed.from).toMatchObject({ name: "Zoë, Reports", address: "app@example.com" });
  });
});
