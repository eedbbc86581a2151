import { env } from "cloudflare:workers";
import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import { withTags } from "../../../shared/tags.ts";
import { attemptOnward } from "../../../workers/hub/onward/deliver.ts";
import { buildMessage, bytesOf } from "../../helpers/mail.ts";
import { api, attemptedFailing, hubIngest, setRoute, testDelivery, waitForOnward } from "./helpers.ts";

/** The one destination the test project's send_email binding accepts (vitest.config.ts). */
const ALLOWED = "archive@elsewhere.example";
/** The edge's mail always carries Cloudflare's trace on top; send_email refuses a message that does. */
const STAMP = "Received: from mx.example.net (192.0.2.7) by cloudflare-email.net (unknown) id 1; Sat, 21 Nov 2026 09:00:00 +0000\r\n";

async function stored(to: string[], raw: string, subject: string): Promise<{ id: number; raw: Uint8Array }> {
  const d = testDelivery(to, {
    raw: bytesOf(raw),
    subject,
    verdict: { action: "accept", scl: 0, agents: [], tags: { "X-Portcullis-SCL": "0", "X-Portcullis-Status": "clean" } },
  });
  const result = await hubIngest.ingest(d);
  if (result.status !== "stored") throw new Error(`not stored: ${JSON.stringify(result)}`);
  return { id: result.id, raw: d.raw };
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.byteLength <= haystack.byteLength; i++) {
    for (let j = 0; j < needle.byteLength; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

describe("forward routes", () => {
  it("sends through the send_email binding to the route's address", async () => {
    await setRoute("fwd-ok.test", { type: "forward", address: ALLOWED });
    const { id } = await stored(["ivan@fwd-ok.test"], STAMP + buildMessage({ to: "ivan@fwd-ok.test" }), "Quarterly report");
    const [step] = await waitForOnward(id, (steps) => expect(steps.map((s) => s.state)).toEqual(["delivered"]));
    expect(step).toMatchObject({ route: { type: "forward", address: ALLOWED }, recipients: ["ivan@fwd-ok.test"], attempts: 1, lastError: null });
  });

  it("keeps the step pending with the binding's own refusal when send_email will not send", async () => {
    await setRoute("fwd-refused.test", { type: "forward", address: "someone@elsewhere.example" });
    const { id } = await stored(["judy@fwd-refused.test"], buildMessage({ to: "judy@fwd-refused.test" }), "Refused");
    const [step] = await waitForOnward(id, (steps) => expect(steps[0]).toMatchObject(attemptedFailing(1)));
    expect(step).toMatchObject({ state: "pending", lastError: "attempt failed: email to someone@elsewhere.example not allowed" });
  });

  it("attaches the message as delivered, byte for byte, to a note from FORWARD_FROM", async () => {
    // A mailbox-only domain: no queue message races the attempt below, which injects a recording sender.
    await setRoute("fwd-content.test", { type: "mailbox" });
    const original = STAMP + buildMessage({ to: "kim@fwd-content.test", subject: "Ünïcode — subject", body: "Grüße\r\n" });
    const { id, raw } = await stored(["kim@fwd-content.test"], original, "Ünïcode — subject");
    const now = Date.now();
    const row = await env.DB.prepare(
      `INSERT INTO onward (message_id, route_key, kind, target, recipients, next_attempt_at, expires_at)
       VALUES (?, 'forward x', 'forward', ?, '["kim@fwd-content.test"]', ?, ?) RETURNING id`,
    )
      .bind(id, ALLOWED, new Date(now).toISOString(), new Date(now + 86_400_000).toISOString())
      .first<{ id: number }>();
    const sent: { from: string; to: string; raw: Uint8Array }[] = [];
    const outcome = await attemptOnward(env, row!.id, { sendMail: async (from, to, message) => void sent.push({ from, to, raw: message }) });
    expect(outcome).toEqual({ state: "delivered" });

    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ from: env.FORWARD_FROM, to: ALLOWED });
    const email = await PostalMime.parse(sent[0]!.raw, { attachmentEncoding: "arraybuffer" });
    expect(email.from?.address).toBe(env.FORWARD_FROM);
    expect(email.to?.map((a) => a.address)).toEqual([ALLOWED]);
    expect(email.subject).toBe("Fwd: Ünïcode — subject");
    expect(email.messageId).toMatch(/^<.+@example\.com>$/);
    expect(email.headers.find((h) => h.key === "auto-submitted")?.value).toBe("auto-forwarded");
    expect(email.headers.some((h) => h.key === "received")).toBe(false);
    expect(email.text).toContain("kim@fwd-content.test");
    expect(email.text).toContain("sender@example.net");
    const delivered = withTags(raw, { "X-Portcullis-SCL": "0", "X-Portcullis-Status": "clean" });
    // The attached part is the delivered copy itself, unencoded: its exact bytes stand in the sent message.
    expect(indexOfBytes(sent[0]!.raw, delivered)).toBeGreaterThan(0);
    // A parser sees it as an attached message (postal-mime hands it back with LF line ends and a trailing blank line).
    const attached = email.attachments.find((a) => a.mimeType === "message/rfc822");
    expect(new TextDecoder().decode(attached!.content as ArrayBuffer).trimEnd()).toBe(new TextDecoder().decode(delivered).replaceAll("\r\n", "\n").trimEnd());
  });

  it("refuses a forward route back into an accepted domain, which would loop", async () => {
    await setRoute("fwd-home.test", { type: "mailbox" });
    const res = await api("/api/v1/domains/fwd-loop.test", { method: "PUT", body: JSON.stringify({ route: { type: "forward", address: "x@fwd-home.test" } }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_route", message: expect.stringMatching(/loop/) } });
    const self = await api("/api/v1/domains/fwd-self.test", {
      method: "PUT",
      body: JSON.stringify({ route: { type: "forward", address: "x@fwd-self.test" } }),
    });
    expect(self.status).toBe(400);
  });
});
