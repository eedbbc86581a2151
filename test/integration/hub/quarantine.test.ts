import { OpenAPIHono } from "@hono/zod-openapi";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it, vi } from "vitest";
import type { Delivery } from "../../../shared/delivery.ts";
import type { HubEnv } from "../../../workers/hub/app.ts";
import { onError } from "../../../workers/hub/api/errors.ts";
import { feedback, messageReports, quarantine } from "../../../workers/hub/quarantine/api.ts";
import { PREVIEW_HEADER_MAX_BYTES } from "../../../workers/hub/quarantine/limits.ts";
import type { QuarantineItem } from "../../../workers/hub/quarantine/store.ts";
import type { SafePreview } from "../../../workers/hub/quarantine/preview.ts";
import { bytesOf } from "../../helpers/mail.ts";
import { hubIngest, onwardOf, setRoute, testDelivery, waitForOnward, webhookRequests } from "./helpers.ts";

/**
 * The quarantine routers mounted as app.ts will mount them, behind the hub's error handler, with
 * the caller the authentication middleware would put on the context.
 */
const app = new Hono<HubEnv>();
app.onError(onError);
app.use("/api/v1/*", async (c, next) => {
  c.set("principal" as never, { id: "tok_ops", name: "ops-alice", role: "operator" } as never);
  c.set("role" as never, "operator" as never);
  await next();
});
app.route("/api/v1/quarantine", quarantine);
app.route("/api/v1/feedback", feedback);
app.route("/api/v1/messages", messageReports);

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://hub${path}`, init), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

type Detail = QuarantineItem & { edgeId: string; preview: SafePreview | null; previewError: string | null };

const CONTENT_FILTER_FAIL = { agent: "content-filter", result: "fail", reason: "spam", detail: "SCL 6: bayes 0.990/40 clues" } as const;

/** Files a message in the quarantine through the hub's real ingest path; returns its id. */
async function quarantined(to: string[], raw: string, overrides: Partial<Delivery> = {}): Promise<number> {
  const d = testDelivery(to, {
    raw: bytesOf(raw),
    subject: /^Subject: (.*)$/m.exec(raw)?.[1]?.trim() ?? null,
    verdict: {
      action: "quarantine",
      scl: 6,
      agents: [{ agent: "limits", result: "pass", reason: "ok" }, CONTENT_FILTER_FAIL],
      tags: { "X-Portcullis-SCL": "6", "X-Portcullis-Status": "quarantined" },
    },
    ...overrides,
  });
  const result = await hubIngest.ingest(d);
  if (result.status !== "stored") throw new Error(`not stored: ${JSON.stringify(result)}`);
  return result.id;
}

function message(headers: Record<string, string>, body: string): string {
  const head = { From: "Sender <sender@example.net>", To: "alice@example.com", Subject: "Quarantined", Date: "Sat, 21 Nov 2026 09:00:00 +0000", ...headers };
  return `${Object.entries(head)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\r\n")}\r\n\r\n${body}`;
}

const plain = (subject: string, text = "Hello Alice,\r\nthe invoice is attached.\r\n") =>
  message({ Subject: subject, "MIME-Version": "1.0", "Content-Type": "text/plain; charset=utf-8" }, text);

async function row(id: number): Promise<Record<string, unknown>> {
  return (await env.DB.prepare("SELECT action, r2_key, tags, released_at, released_by, deleted_at, deleted_by FROM messages WHERE id = ?").bind(id).first())!;
}

async function detail(id: number): Promise<Detail> {
  const res = await call(`/api/v1/quarantine/${id}`);
  expect(res.status).toBe(200);
  return res.json();
}

describe("quarantine list", () => {
  it("lists quarantined messages newest first with envelope, subject, SCL, the results that put them there, time and size", async () => {
    const domain = `list-${crypto.randomUUID().slice(0, 8)}.test`;
    const first = await quarantined([`alice@${domain}`], plain("First"));
    const second = await quarantined([`bob@${domain}`], plain("Second"), { envelope: { from: "Promo@Deals.Example", to: [`bob@${domain}`] } });
    // Delivered mail is not in the quarantine.
    await hubIngest.ingest(testDelivery([`carol@${domain}`]));

    const res = await call(`/api/v1/quarantine?recipient=@${domain}`);
    expect(res.status).toBe(200);
    const { items, nextCursor } = (await res.json()) as { items: QuarantineItem[]; nextCursor: string | null };
    expect(items.map((i) => i.id)).toEqual([second, first]);
    expect(nextCursor).toBeNull();
    expect(items[1]).toMatchObject({
      from: "sender@example.net",
      to: [`alice@${domain}`],
      subject: "First",
      scl: 6,
      reasons: [CONTENT_FILTER_FAIL],
      size: bytesOf(plain("First")).byteLength,
      receivedAt: expect.any(String),
    });
    expect(items[1]!.agents).toHaveLength(2);
    expect(items[1]).not.toHaveProperty("r2Key");
  });

  it("filters by sender and recipient, by address or by whole domain, without regard to case", async () => {
    const domain = `filter-${crypto.randomUUID().slice(0, 8)}.test`;
    const a = await quarantined([`alice@${domain}`], plain("A"), { envelope: { from: "news@Shop.example", to: [`alice@${domain}`] } });
    const b = await quarantined([`bob@${domain}`, `carol@${domain}`], plain("B"), {
      envelope: { from: "x@sub.shop.example", to: [`bob@${domain}`, `carol@${domain}`] },
    });
    const ids = async (query: string) => ((await (await call(`/api/v1/quarantine?${query}`)).json()) as { items: QuarantineItem[] }).items.map((i) => i.id);
    expect(await ids(`recipient=@${domain}`)).toEqual([b, a]);
    expect(await ids(`recipient=@${domain}&sender=@shop.example`)).toEqual([a]);
    expect(await ids(`recipient=@${domain}&sender=NEWS@shop.example`)).toEqual([a]);
    expect(await ids(`recipient=@${domain}&sender=@sub.shop.example`)).toEqual([b]);
    expect(await ids(`recipient=CAROL@${domain}`)).toEqual([b]);
    expect(await ids(`recipient=dave@${domain}`)).toEqual([]);
    const bad = await call("/api/v1/quarantine?sender=nobody");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: "bad_request", message: expect.stringContaining("sender") } });
  });

  it("pages with an opaque cursor", async () => {
    const domain = `page-${crypto.randomUUID().slice(0, 8)}.test`;
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await quarantined([`alice@${domain}`], plain(`Page ${i}`)));
    const page1 = (await (await call(`/api/v1/quarantine?recipient=@${domain}&limit=2`)).json()) as { items: QuarantineItem[]; nextCursor: string };
    expect(page1.items.map((i) => i.id)).toEqual([ids[2], ids[1]]);
    const page2 = (await (await call(`/api/v1/quarantine?recipient=@${domain}&limit=2&cursor=${page1.nextCursor}`)).json()) as {
      items: QuarantineItem[];
      nextCursor: string | null;
    };
    expect(page2).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
    expect((await call("/api/v1/quarantine?limit=0")).status).toBe(400);
  });
});

describe("quarantine preview", () => {
  it("shows the header block and the plain text, and lists attachments without opening them", async () => {
    const secret = "ATTACHMENT-CONTENT-NEVER-SHOWN";
    const raw = message(
      { Subject: "Invoice", "MIME-Version": "1.0", "Content-Type": 'multipart/mixed; boundary="b1"' },
      [
        "--b1",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Please find the invoice attached.",
        "--b1",
        'Content-Type: application/pdf; name="invoice.pdf"',
        'Content-Disposition: attachment; filename="invoice.pdf"',
        "Content-Transfer-Encoding: base64",
        "",
        btoa(secret),
        "--b1",
        "Content-Type: application/octet-stream",
        "Content-Disposition: attachment; filename*=utf-8''report%E2%80%AEfdp.exe",
        "",
        secret,
        "--b1--",
        "",
      ].join("\r\n"),
    );
    const id = await quarantined(["alice@example.com"], raw);
    const res = await call(`/api/v1/quarantine/${id}`);
    const text = await res.text();
    expect(text).not.toContain(secret);
    expect(text).not.toContain(btoa(secret));
    const { preview, ...meta } = JSON.parse(text) as Detail;
    expect(meta).toMatchObject({ id, subject: "Invoice", scl: 6, reasons: [CONTENT_FILTER_FAIL], previewError: null });
    expect(preview!.problem).toBeNull();
    expect(preview!.headers).toMatchObject({ truncated: false });
    expect(preview!.headers.text).toContain("Subject: Invoice\n");
    expect(preview!.headers.text).not.toContain("Please find");
    expect(preview!.text).toEqual({ content: "Please find the invoice attached.", source: "text/plain", truncated: false });
    expect(preview!.attachmentCount).toBe(2);
    expect(preview!.attachments[0]).toEqual({
      filename: "invoice.pdf",
      contentType: "application/pdf",
      size: secret.length,
      disposition: "attachment",
      inline: false,
    });
    // A right-to-left override would show "report\u202efdp.exe" as "reportexe.pdf": it is neutralised.
    expect(preview!.attachments[1]!.filename).toBe("report\ufffdfdp.exe");
  });

  it("turns an HTML-only message into text: no markup, no script or style, links as text, nothing fetched", async () => {
    const html = [
      "<html><head><style>body { color: red }</style><title>Notice</title></head><body>",
      '<p>Your account &amp; password expire <b>today</b>.</p><script>alert("x")</script>',
      '<img src="https://tracker.example/pixel.png"><p><a href="https://phish.example/login">Sign in now</a></p>',
      "</body></html>",
    ].join("\r\n");
    const id = await quarantined(
      ["alice@example.com"],
      message({ Subject: "Notice", "MIME-Version": "1.0", "Content-Type": "text/html; charset=utf-8" }, html),
    );
    const { preview } = await detail(id);
    expect(preview!.text.source).toBe("text/html");
    expect(preview!.text.content).toContain("Your account & password expire today.");
    expect(preview!.text.content).toContain("Sign in now");
    for (const markup of ["<", "color: red", "alert", "tracker.example"]) expect(preview!.text.content).not.toContain(markup);
    expect(preview!.links).toEqual([{ href: "https://phish.example/login", text: "Sign in now" }]);
    expect(JSON.stringify(preview)).not.toContain("tracker.example");
  });

  it("answers a hostile message with a clear problem, and still shows its capped header block", async () => {
    const parts = Array.from({ length: 2_100 }, (_, i) => `--b\r\nContent-Type: text/plain\r\n\r\npart ${i}\r\n`).join("");
    const manyParts = await quarantined(
      ["alice@example.com"],
      message({ "MIME-Version": "1.0", "Content-Type": "multipart/mixed; boundary=b" }, `${parts}--b--\r\n`),
    );
    const a = await detail(manyParts);
    expect(a.preview!.problem).toEqual({ code: "too_many_parts", message: expect.stringContaining("MIME parts") });
    expect(a.preview!.text.content).toBe("");
    expect(a.preview!.attachments).toEqual([]);
    expect(a.preview!.headers.text).toContain("Content-Type: multipart/mixed; boundary=b");

    const fields = Object.fromEntries(Array.from({ length: 1_200 }, (_, i) => [`X-Filler-${i}`, "x".repeat(40)]));
    const manyHeaders = await quarantined(["alice@example.com"], message(fields, "body\r\n"));
    const b = await detail(manyHeaders);
    expect(b.preview!.problem).toEqual({ code: "too_many_headers", message: expect.stringContaining("header fields") });
    expect(b.preview!.headers.truncated).toBe(true);
    expect(b.preview!.headers.text.length).toBeLessThanOrEqual(PREVIEW_HEADER_MAX_BYTES);

    // Control characters in the text (a terminal escape sequence) are shown as U+FFFD.
    const escapes = await quarantined(["alice@example.com"], plain("Escapes", "before \u001b[2J after\r\n"));
    expect((await detail(escapes)).preview!.text.content).toBe("before \ufffd[2J after");
  });

  it("says so when the stored bytes are missing, and does not release such a message", async () => {
    const id = await quarantined(["alice@example.com"], plain("Lost"));
    await env.MAILBOX.delete((await row(id)).r2_key as string);
    expect(await detail(id)).toMatchObject({ id, preview: null, previewError: "The message's stored bytes are missing." });
    const release = await call(`/api/v1/quarantine/${id}/release`, { method: "POST" });
    expect(release.status).toBe(409);
    expect(await release.json()).toMatchObject({ error: { code: "bytes_missing" } });
    expect(await row(id)).toMatchObject({ action: "quarantine", released_at: null });
  });

  it("answers 404 for a message that is not in the quarantine, and 400 for a bad id", async () => {
    const delivered = await hubIngest.ingest(testDelivery());
    const res = await call(`/api/v1/quarantine/${delivered.status === "stored" ? delivered.id : 0}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_quarantined" } });
    expect((await call("/api/v1/quarantine/999999")).status).toBe(404);
    expect((await call("/api/v1/quarantine/abc")).status).toBe(400);
  });
});

describe("quarantine release", () => {
  it("moves the bytes to the mailbox, records who released it, and routes it on like accepted mail", async () => {
    const path = `/${crypto.randomUUID()}/ok`;
    const domain = `release-${crypto.randomUUID().slice(0, 8)}.test`;
    await setRoute(domain, { type: "webhook", url: `https://webhook.test${path}`, secret: "webhook-secret-0123456789abcdef" });
    const raw = plain("Wanted after all");
    const id = await quarantined([`alice@${domain}`], raw);
    const quarantineKey = (await row(id)).r2_key as string;
    expect(quarantineKey).toMatch(/^quarantine\//);
    expect(await onwardOf(id)).toEqual([]);

    const res = await call(`/api/v1/quarantine/${id}/release`, { method: "POST" });
    expect(res.status).toBe(200);
    const released = (await res.json()) as { releasedAt: string; releasedBy: string; onward: number[] };
    expect(released).toMatchObject({ id, releasedBy: "ops-alice", onward: [expect.any(Number)] });

    const after = await row(id);
    expect(after).toMatchObject({
      action: "accept",
      released_by: "ops-alice",
      released_at: released.releasedAt,
      r2_key: quarantineKey.replace(/^quarantine\//, "messages/"),
    });
    expect(await env.MAILBOX.get(quarantineKey)).toBeNull();
    expect(new Uint8Array(await (await env.MAILBOX.get(after.r2_key as string))!.arrayBuffer())).toEqual(bytesOf(raw));

    // The onward step is delivered as for accepted mail, tagged as delivered mail.
    const [step] = await waitForOnward(id, (steps) => expect(steps.map((s) => s.state)).toEqual(["delivered"]));
    expect(step).toMatchObject({ id: released.onward[0], recipients: [`alice@${domain}`] });
    const [request] = await webhookRequests(path);
    const body = new TextDecoder().decode(Uint8Array.from(atob(request!.body), (ch) => ch.charCodeAt(0)));
    expect(body).toContain("X-Portcullis-Status: clean\r\n");
    expect(body).toContain(`X-Portcullis-Released: ${released.releasedAt}\r\n`);
    expect(body.endsWith(raw)).toBe(true);

    // Out of the quarantine: not listed, not previewed.
    const list = (await (await call(`/api/v1/quarantine?recipient=@${domain}`)).json()) as { items: QuarantineItem[] };
    expect(list.items).toEqual([]);
    expect((await call(`/api/v1/quarantine/${id}`)).status).toBe(404);
  });

  it("logs a release and a delete in the hub's line shape: the message's ids, its hub number, no address", async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    const released = await quarantined(["logged-rcpt@example.com"], plain("Logged release"));
    const deleted = await quarantined(["logged-rcpt@example.com"], plain("Logged delete"));
    try {
      expect((await call(`/api/v1/quarantine/${released}/release`, { method: "POST" })).status).toBe(200);
      expect((await call(`/api/v1/quarantine/${deleted}`, { method: "DELETE" })).status).toBe(200);
    } finally {
      spy.mockRestore();
    }
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const [event, id] of [
      ["quarantine_released", released],
      ["quarantine_deleted", deleted],
    ] as const) {
      const stored = (await env.DB.prepare("SELECT message_id, delivery_id FROM messages WHERE id = ?").bind(id).first())!;
      expect(parsed.find((l) => l.event === event && l.message === id)).toMatchObject({
        level: "info",
        worker: "hub",
        hubId: env.HUB_ID,
        messageId: stored.message_id,
        deliveryId: stored.delivery_id,
      });
    }
    for (const line of lines) expect(line).not.toContain("logged-rcpt");
  });

  it("answers a second release with 409 and changes nothing", async () => {
    const id = await quarantined(["alice@example.com"], plain("Twice"));
    expect((await call(`/api/v1/quarantine/${id}/release`, { method: "POST" })).status).toBe(200);
    const before = await row(id);
    const again = await call(`/api/v1/quarantine/${id}/release`, { method: "POST" });
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({
      error: { code: "already_released", message: `Message ${id} was already released from the quarantine at ${before.released_at} by ops-alice.` },
    });
    expect(await row(id)).toEqual(before);
    expect(await env.MAILBOX.get(before.r2_key as string)).not.toBeNull();
  });

  it("writes no onward step for a domain whose route is the mailbox", async () => {
    const id = await quarantined(["alice@example.com"], plain("Mailbox only"));
    const res = await call(`/api/v1/quarantine/${id}/release`, { method: "POST" });
    expect(await res.json()).toMatchObject({ onward: [] });
    expect(await onwardOf(id)).toEqual([]);
  });

  it("answers 409 for delivered mail and 404 for unknown ids", async () => {
    const delivered = await hubIngest.ingest(testDelivery());
    const res = await call(`/api/v1/quarantine/${delivered.status === "stored" ? delivered.id : 0}/release`, { method: "POST" });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: { code: "not_quarantined" } });
    expect((await call("/api/v1/quarantine/999999/release", { method: "POST" })).status).toBe(404);
  });
});

describe("quarantine delete", () => {
  it("deletes the bytes and keeps the row, marked deleted with who and when", async () => {
    const id = await quarantined(["alice@example.com"], plain("Delete me"));
    const key = (await row(id)).r2_key as string;
    const res = await call(`/api/v1/quarantine/${id}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { deletedAt: string };
    expect(body).toMatchObject({ id, deletedBy: "ops-alice" });
    expect(await env.MAILBOX.get(key)).toBeNull();
    expect(await row(id)).toMatchObject({ action: "deleted", deleted_at: body.deletedAt, deleted_by: "ops-alice", released_at: null });

    expect((await call(`/api/v1/quarantine/${id}`)).status).toBe(404);
    const release = await call(`/api/v1/quarantine/${id}/release`, { method: "POST" });
    expect(release.status).toBe(409);
    expect(await release.json()).toMatchObject({ error: { code: "deleted", message: expect.stringContaining("deleted from the quarantine") } });
    expect((await call(`/api/v1/quarantine/${id}`, { method: "DELETE" })).status).toBe(409);
  });
});

describe("the quarantine and feedback routes in the OpenAPI document", () => {
  it("declare each operation with its role, a tag, a summary and its responses, and refer only to schemas they register", () => {
    const docs = new OpenAPIHono<HubEnv>();
    docs.route("/api/v1/quarantine", quarantine).route("/api/v1/feedback", feedback).route("/api/v1/messages", messageReports);
    const doc = docs.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "test", version: "1" } });
    const operations = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
      Object.entries(item as Record<string, { tags?: string[]; summary?: string; responses: object; "x-portcullis-role"?: string }>).map(([method, op]) => ({
        id: `${method.toUpperCase()} ${path}`,
        op,
      })),
    );
    expect(Object.fromEntries(operations.map(({ id, op }) => [id, op["x-portcullis-role"]]))).toEqual({
      "GET /api/v1/quarantine": "read-only",
      "GET /api/v1/quarantine/{id}": "read-only",
      "DELETE /api/v1/quarantine/{id}": "operator",
      "POST /api/v1/quarantine/{id}/release": "operator",
      "POST /api/v1/quarantine/{id}/report": "operator",
      "GET /api/v1/feedback": "read-only",
      "DELETE /api/v1/feedback/{id}": "admin",
      "POST /api/v1/feedback/rebuild": "operator",
      "POST /api/v1/messages/{id}/report": "operator",
    });
    for (const { id, op } of operations) {
      expect(op.tags?.length, id).toBe(1);
      expect(op.summary, id).toBeTruthy();
      expect(Object.keys(op.responses), id).toEqual(expect.arrayContaining(["200", "401", "403"]));
    }
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs).toContain("FeedbackReportBody");
    for (const ref of refs) expect(doc.components?.schemas ?? {}, ref).toHaveProperty([ref]);
  });
});
