import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Delivery, HubIngestApi } from "../../../shared/delivery.ts";
import { MAX_MESSAGE_BYTES } from "../../../shared/limits.ts";
import { handleEmail, TempFailError } from "../../../workers/edge/index.ts";
import { mockEmail } from "../../helpers/email-event.ts";
import { seedEdgeDirectory } from "../../helpers/edge-directory.ts";
import { hubApi, listHubMessages, migrateHub } from "../../helpers/hub.ts";
import { buildMessage, bytesOf } from "../../helpers/mail.ts";

beforeAll(async () => {
  await migrateHub();
  const pushed = await seedEdgeDirectory();
  expect(pushed.status).toBe("committed");
});

describe("edge email()", () => {
  it("accepts mail for a known recipient and the hub stores it byte for byte", async () => {
    const raw = buildMessage({ subject: "Byte for byte ✓", body: "Line one\r\nLine two with trailing space \r\n\r\n" });
    const email = mockEmail({ from: "sender@example.net", to: "alice@example.com", raw });
    await handleEmail(email.message, env);
    expect(email.rejected()).toBeNull();

    const stored = (await listHubMessages()).find((m) => m.subject === "Byte for byte ✓");
    expect(stored).toBeDefined();
    expect(stored!.to).toEqual(["alice@example.com"]);
    expect(stored!.from).toBe("sender@example.net");
    expect(stored!.deliveryId).toMatch(/^[0-9a-f-]{36}$/);
    expect(stored!.action).toBe("accept");
    expect(stored!.tags).toEqual({ "X-Portcullis-SCL": expect.stringMatching(/^[0-3]$/), "X-Portcullis-Status": "clean" });
    const res = await hubApi(`/api/v1/messages/${stored!.id}/raw`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("message/rfc822");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytesOf(raw));
  });

  it("accepts a +tag address and mixed case, as the recipient it belongs to", async () => {
    const email = mockEmail({ from: "sender@example.net", to: "Bob+Invoices@Example.COM", raw: buildMessage({ subject: "tagged" }) });
    await handleEmail(email.message, env);
    expect(email.rejected()).toBeNull();
    expect((await listHubMessages()).some((m) => m.subject === "tagged")).toBe(true);
  });

  it("rejects an unknown recipient at an accepted domain with 550 5.1.1 and stores nothing", async () => {
    const before = (await listHubMessages()).length;
    const email = mockEmail({ from: "sender@example.net", to: "nobody@example.com", raw: buildMessage() });
    await handleEmail(email.message, env);
    expect(email.rejected()).toMatch(/^550 5\.1\.1 /);
    expect((await listHubMessages()).length).toBe(before);
  });

  it("refuses to relay for a domain that is not accepted with 550 5.7.1", async () => {
    const email = mockEmail({ from: "sender@example.net", to: "someone@elsewhere.example", raw: buildMessage() });
    await handleEmail(email.message, env);
    expect(email.rejected()).toMatch(/^550 5\.7\.1 /);
  });

  it("rejects a message over 25 MiB with 552 5.3.4 without reading it", async () => {
    const email = mockEmail({ from: "sender@example.net", to: "alice@example.com", raw: buildMessage(), rawSize: MAX_MESSAGE_BYTES + 1 });
    await handleEmail(email.message, env);
    expect(email.rejected()).toMatch(/^552 5\.3\.4 /);
  });

  it("rejects a stream longer than its declared size once it passes 25 MiB", async () => {
    const huge = new Uint8Array(MAX_MESSAGE_BYTES + 1024).fill(0x41);
    const email = mockEmail({ from: "sender@example.net", to: "alice@example.com", raw: huge, rawSize: 1000 });
    await handleEmail(email.message, env);
    expect(email.rejected()).toMatch(/^552 5\.3\.4 /);
  });

  it("rejects malformed MIME with a verdict instead of crashing", async () => {
    const raw = `From: a@example.net\r\nTo: alice@example.com\r\nMessage-ID: <bad@x>\r\nX-Big: ${"b".repeat(2 * 1024 * 1024)}\r\n\r\nbody`;
    const email = mockEmail({ from: "sender@example.net", to: "alice@example.com", raw });
    await handleEmail(email.message, env);
    expect(email.rejected()).toMatch(/^552 5\.3\.4 /);
  });

  it("rejects a DMARC p=reject failure with 550 5.7.1, looking DNS up over DNS-over-HTTPS", async () => {
    const stamp = "Received: from mx.attacker.example (203.0.113.5) by cloudflare-email.net (unknown) id 1; Sat, 21 Nov 2026 09:00:00 +0000\r\n";
    const raw = stamp + buildMessage({ from: "CEO <ceo@reject.example>", subject: "wire transfer" });
    const email = mockEmail({ from: "ceo@reject.example", to: "alice@example.com", raw });
    await handleEmail(email.message, env);
    expect(email.rejected()).toBe("550 5.7.1 Message rejected: sender authentication failed");
    expect((await listHubMessages()).some((m) => m.subject === "wire transfer")).toBe(false);
  });

  it("throws (temporary SMTP failure) when no hub takes the message and it cannot be spooled — never a bounce", async () => {
    const unreachable = { ingest: async () => Promise.reject(new Error("connection refused")), ping: async () => Promise.reject(new Error("down")) };
    const brokenSpool = { put: async () => Promise.reject(new Error("R2 unavailable")) } as unknown as R2Bucket;
    const email = mockEmail({ from: "sender@example.net", to: "alice@example.com", raw: buildMessage({ subject: "during outage" }) });
    const err = await handleEmail(email.message, { ...env, HUB: unreachable as unknown as Env["HUB"], SPOOL: brokenSpool }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TempFailError);
    expect((err as Error).message).toMatch(/^451 4\.4\.1 /);
    expect(email.rejected()).toBeNull();
    expect((await listHubMessages()).some((m) => m.subject === "during outage")).toBe(false);
  });
});

describe("hub ingest", () => {
  it("stores a redelivered delivery id once", async () => {
    const hub = env.HUB as unknown as HubIngestApi;
    const delivery: Delivery = {
      deliveryId: crypto.randomUUID(),
      edgeId: "edge-test",
      envelope: { from: "sender@example.net", to: ["alice@example.com"] },
      raw: bytesOf(buildMessage({ subject: "retried" })),
      receivedAt: new Date().toISOString(),
      subject: "retried",
      messageId: null,
      verdict: { action: "accept", scl: 0, agents: [] },
    };
    const first = await hub.ingest(delivery);
    const second = await hub.ingest(delivery);
    const third = await hub.ingest({ ...delivery, subject: "changed on retry" });
    expect(first.status === "stored" && first.id > 0).toBe(true);
    const id = first.status === "stored" ? first.id : -1;
    expect(second).toEqual({ status: "duplicate", id });
    expect(third).toEqual({ status: "duplicate", id });
    const rows = await env.HUB_DB.prepare("SELECT COUNT(*) AS n FROM messages WHERE delivery_id = ?").bind(delivery.deliveryId).first<{ n: number }>();
    expect(rows?.n).toBe(1);
  });

  it("refuses a hand-over without a valid delivery id", async () => {
    const hub = env.HUB as unknown as HubIngestApi;
    const bad = {
      deliveryId: "not-a-uuid",
      edgeId: "e",
      envelope: { from: "", to: ["alice@example.com"] },
      raw: new Uint8Array(1),
      receivedAt: new Date().toISOString(),
      subject: null,
      messageId: null,
      verdict: { action: "accept" as const, scl: 0, agents: [] },
    };
    expect(await hub.ingest(bad)).toEqual({ status: "refused", error: "deliveryId must be a UUID" });
  });
});
