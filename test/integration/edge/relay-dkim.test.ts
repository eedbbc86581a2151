import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { newDkimKey, verifyWithRecords } from "../../helpers/dkim-keys.ts";
import { storedBySubject } from "../../helpers/delivery.ts";
import { migrateHub } from "../../helpers/hub.ts";
import { buildMessage } from "../../helpers/mail.ts";
import { capturingSender, relay, relayClient, relayRequest, storedRaw, useRelay } from "../../helpers/relay.ts";

const rsa = await newDkimKey("rsa");
const ed = await newDkimKey("ed25519");
/** The DNS a receiver would query: both public keys of example.com. */
const RECORDS = { "rsa2026._domainkey.example.com": rsa.record, "ed2026._domainkey.example.com": ed.record };
/** The DKIM_KEYS secret: an RSA and an Ed25519 key for example.com (PEM, and base64 PKCS#8). */
const DKIM_KEYS = JSON.stringify({
  "example.com": [
    { selector: "rsa2026", algorithm: "rsa-sha256", privateKey: rsa.pem },
    { selector: "ed2026", algorithm: "ed25519-sha256", privateKey: ed.base64 },
  ],
});
const withKeys = { DKIM_KEYS };

beforeAll(async () => {
  await migrateHub();
});

beforeEach(async () => {
  await useRelay([await relayClient({ allowedSenders: ["@example.com", "@mail.example.com", "@partner.example"] })]);
});

const enc = new TextEncoder();
const dec = new TextDecoder();

function message(overrides: Record<string, unknown> = {}): { subject: string } & Record<string, unknown> {
  return {
    from: "Zoë Reports <reports@example.com>",
    to: ["alice@example.com"],
    subject: `Grüße ${crypto.randomUUID()}`,
    text: "Line one\nLine two with trailing space \n",
    html: "<p>Hello</p>",
    ...overrides,
  };
}

describe("relay: DKIM signing", () => {
  it("signs with rsa-sha256 and ed25519-sha256, and the project's DKIM verification passes both on what the hub stored", async () => {
    const m = message();
    const result = await relay(relayRequest(m), {}, withKeys);
    expect(result.status).toBe(200);
    expect(result.body.dkim).toEqual([
      { domain: "example.com", selector: "rsa2026", algorithm: "rsa-sha256" },
      { domain: "example.com", selector: "ed2026", algorithm: "ed25519-sha256" },
    ]);
    const { raw } = await storedRaw(m.subject);
    expect(await verifyWithRecords(raw, RECORDS)).toEqual([
      ["example.com", "pass"],
      ["example.com", "pass"],
    ]);
  });

  it("a signature no longer verifies once the body or a signed header is changed", async () => {
    const m = message();
    await relay(relayRequest(m), {}, withKeys);
    const text = dec.decode((await storedRaw(m.subject)).raw);
    const body = enc.encode(text.replace("Line one", "Line 1"));
    expect((await verifyWithRecords(body, RECORDS)).map(([, r]) => r)).not.toContain("pass");
    const header = enc.encode(text.replace(/^To: alice@example.com/m, "To: mallory@example.com"));
    expect((await verifyWithRecords(header, RECORDS)).map(([, r]) => r)).toEqual(["fail", "fail"]);
    // Without the published keys nothing verifies either.
    expect((await verifyWithRecords(enc.encode(text), {})).map(([, r]) => r)).not.toContain("pass");
  });

  it("signs what goes to the send connector, and a raw submission with Unix line ends", async () => {
    const sender = capturingSender();
    await relay(relayRequest(message({ to: ["partner@partner.example"] })), { sendEmail: sender.send }, withKeys);
    expect(await verifyWithRecords(sender.sent[0]!.raw, RECORDS)).toEqual([
      ["example.com", "pass"],
      ["example.com", "pass"],
    ]);
    const subject = `raw signed ${crypto.randomUUID()}`;
    const raw = buildMessage({ from: "App <app@example.com>", subject }).replace(/\r\n/g, "\n");
    expect((await relay(relayRequest(raw), {}, withKeys)).status).toBe(200);
    expect(await verifyWithRecords((await storedRaw(subject)).raw, RECORDS)).toEqual([
      ["example.com", "pass"],
      ["example.com", "pass"],
    ]);
  });

  it("signs mail from a subdomain with the parent domain's keys, and leaves a domain without keys unsigned", async () => {
    const sub = message({ from: "app@mail.example.com" });
    const signed = await relay(relayRequest(sub), {}, withKeys);
    expect(signed.body.dkim?.map((d) => d.domain)).toEqual(["example.com", "example.com"]);
    expect(await verifyWithRecords((await storedRaw(sub.subject)).raw, RECORDS)).toEqual([
      ["example.com", "pass"],
      ["example.com", "pass"],
    ]);
    const other = message({ from: "reports@partner.example" });
    const unsigned = await relay(relayRequest(other), {}, withKeys);
    expect(unsigned.body.dkim).toEqual([]);
    expect(dec.decode((await storedRaw(other.subject)).raw)).not.toMatch(/^DKIM-Signature:/im);
  });

  it("refuses to send at all when DKIM_KEYS is unusable (500), rather than send unsigned", async () => {
    const m = message();
    for (const broken of ["{not json", JSON.stringify({ "example.com": { selector: "s1", algorithm: "rsa-sha256", privateKey: ed.pem } })]) {
      const result = await relay(relayRequest(m), {}, { DKIM_KEYS: broken });
      expect(result.status).toBe(500);
      expect(result.body.error?.code).toBe("dkim_key_invalid");
      expect(JSON.stringify(result.body)).not.toContain("PRIVATE KEY");
    }
    expect(await storedBySubject(m.subject)).toBe(0);
  });
});
