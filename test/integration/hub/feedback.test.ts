import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { parseManifest } from "../../../shared/directory/manifest.ts";
import type { EdgeDirectoryApi } from "../../../shared/directory/publish-api.ts";
import { DEFAULT_MODEL } from "../../../shared/hygiene/content/default-model.ts";
import { defaultModel, loadModel } from "../../../shared/hygiene/content/model.ts";
import { encodeModel } from "../../../shared/hygiene/content/model-codec.ts";
import { messageTokens, scoreMessage } from "../../../shared/hygiene/content/score.ts";
import { parseMessage } from "../../../shared/hygiene/parse.ts";
import type { HubEnv } from "../../../workers/hub/app.ts";
import { onError } from "../../../workers/hub/api/errors.ts";
import { feedback, messageReports, quarantine } from "../../../workers/hub/quarantine/api.ts";
import type { FeedbackRecord } from "../../../workers/hub/quarantine/feedback-store.ts";
import { buildContentModel, mergeFeedback, type ModelStatus, publishContentModel } from "../../../workers/hub/quarantine/model.ts";
import { hubBlobs } from "../../../workers/hub/sync/build.ts";
import { bytesOf } from "../../helpers/mail.ts";
import { api, expectSyncRequested, hubIngest, testDelivery } from "./helpers.ts";

// The feedback routers as app.ts will mount them, behind the hub's error handler, for an operator's token.
const app = new Hono<HubEnv>().onError(onError).use("/api/v1/*", async (c, next) => {
  c.set("principal" as never, { id: "tok_ops", name: "ops-bob", role: "admin" } as never);
  c.set("role" as never, "admin" as never);
  await next();
});
app.route("/api/v1/quarantine", quarantine).route("/api/v1/feedback", feedback).route("/api/v1/messages", messageReports);

async function call(path: string, method = "GET", body?: unknown, headers: Record<string, string> = { "content-type": "application/json" }): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://hub${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

interface ReportAnswer {
  report: FeedbackRecord;
  created: boolean;
  replaced: number | null;
  model: ModelStatus;
}

const report = (id: number, verdict: string, where = "quarantine") => call(`/api/v1/${where}/${id}/report`, "POST", { verdict });

/** A message the shipped model scores as spam (SCL 7), and one it scores as ham (SCL 0). */
function spammy(tag: string): string {
  return [
    `From: "Prize Center" <winner@promo-${tag}.example>`,
    "To: alice@example.com",
    "Subject: You have been selected for a FREE gift",
    "Date: Sat, 21 Nov 2026 09:00:00 +0000",
    `Message-ID: <${tag}@promo.example>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Dear friend,",
    "",
    "Congratulations! You have been selected to receive a FREE gift. Act now, this limited time offer expires soon.",
    `Click here to claim your prize: http://promo-${tag}.example/claim`,
    "Make money fast from home, no experience needed, guaranteed income. Order now and save 50%.",
    "To be removed from our mailing list, reply with remove in the subject.",
    "",
  ].join("\r\n");
}

function hammy(tag: string): string {
  return [
    `From: "Bob Smith" <bob@partner-${tag}.example>`,
    "To: alice@example.com",
    "Subject: Re: notes from the design review",
    "Date: Sat, 21 Nov 2026 09:00:00 +0000",
    `Message-ID: <${tag}@partner.example>`,
    "In-Reply-To: <x@example.com>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Hi Alice,",
    "",
    "Thanks for the notes. I think the kernel patch looks fine, but the build breaks on the older compiler.",
    "Could you check the makefile and the config script before Thursday? I will update the bug report.",
    "",
    "Cheers,",
    "Bob",
    "",
  ].join("\r\n");
}

async function stored(raw: string, action: "accept" | "quarantine"): Promise<number> {
  const d = testDelivery(["alice@example.com"], { raw: bytesOf(raw), verdict: { action, scl: action === "quarantine" ? 6 : 0, agents: [] } });
  const result = await hubIngest.ingest(d);
  if (result.status !== "stored") throw new Error(`not stored: ${JSON.stringify(result)}`);
  return result.id;
}

/** The published content-model policy's model (base64), or the shipped one when none is set. */
async function publishedModel(): Promise<{ version: string | null; model: string }> {
  const row = await env.DB.prepare("SELECT body FROM policies WHERE name = 'content-model'").first<{ body: string }>();
  return row === null ? { version: null, model: DEFAULT_MODEL } : (JSON.parse(row.body) as { version: string; model: string });
}

async function tokensOf(raw: string): Promise<number[]> {
  const parsed = await parseMessage(bytesOf(raw));
  if (!parsed.ok) throw new Error("test message does not parse");
  return messageTokens(parsed.email).map((h) => h >>> 0);
}

/** The message's score by the edge's own content filter code, under a model blob. */
async function score(raw: string, model: string): Promise<{ scl: number; probability: number }> {
  const parsed = await parseMessage(bytesOf(raw));
  if (!parsed.ok) throw new Error("test message does not parse");
  const s = scoreMessage(parsed.email, loadModel(model), { auth: null, now: Date.now() });
  return { scl: s.scl, probability: s.bayes.probability };
}

describe("feedback reports", () => {
  it("a ham report on a quarantined message lowers its SCL under the published model, and the next sync carries that model to the edges", async () => {
    const raw = spammy("fp");
    const id = await stored(raw, "quarantine");
    const before = await score(raw, (await publishedModel()).model);
    expect(before.scl).toBeGreaterThanOrEqual(5);

    let answer: ReportAnswer | undefined;
    await expectSyncRequested(async () => {
      const res = await report(id, "ham");
      expect(res.status).toBe(201);
      answer = await res.json();
    });
    expect(answer).toMatchObject({
      report: { messageId: id, verdict: "ham", kind: "false_positive", messageAction: "quarantine", messageScl: 6, reportedBy: "ops-bob", withdrawnAt: null },
      created: true,
      replaced: null,
      model: { upToDate: true, standing: { spam: 0, ham: 1 } },
    });
    expect(answer!.report.tokens).toBeGreaterThan(20);

    const published = await publishedModel();
    expect(published.version).toBe(answer!.model.version);
    expect(published.version).toMatch(/^PCB1-[0-9a-f]{16}\+feedback\.\d+$/);
    const after = await score(raw, published.model);
    expect(after.scl).toBeLessThan(before.scl);
    expect(after.probability).toBeLessThan(before.probability);

    // EdgeSync carries the rebuilt policy to an edge.
    await api("/api/v1/edges/edge-a", { method: "PUT", body: JSON.stringify({ transport: "binding", binding: "EDGE" }) });
    const sync = (await (await api("/api/v1/sync", { method: "POST" })).json()) as { root: string };
    expect((await (env.EDGE as unknown as EdgeDirectoryApi).status()).current?.root).toBe(sync.root);
    const blobs = hubBlobs(env);
    const manifest = parseManifest((await blobs.get(sync.root))!);
    const atEdge = JSON.parse(new TextDecoder().decode((await blobs.get(manifest.policies["content-model"]!))!)) as { model: string };
    expect(atEdge.model).toBe(published.model);
  });

  it("a spam report on delivered mail raises its SCL", async () => {
    const raw = hammy("fn");
    const id = await stored(raw, "accept");
    const before = await score(raw, (await publishedModel()).model);
    const res = await report(id, "spam", "messages");
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ report: { messageId: id, verdict: "spam", kind: "false_negative", messageAction: "accept" } });
    const after = await score(raw, (await publishedModel()).model);
    expect(after.scl).toBeGreaterThan(before.scl);
    expect(after.probability).toBeGreaterThan(before.probability);
  });

  it("keeps one standing report per message: the same verdict again changes nothing, the other one replaces it", async () => {
    const raw = spammy("again");
    const id = await stored(raw, "quarantine");
    const first = (await (await report(id, "spam")).json()) as ReportAnswer;
    expect(first.report.kind).toBe("confirmation");
    const model = await publishedModel();

    const same = await report(id, "spam");
    expect(same.status).toBe(200);
    expect(await same.json()).toMatchObject({ created: false, report: { id: first.report.id }, model: { generation: first.model.generation } });
    expect(await publishedModel()).toEqual(model);

    const flipped = await report(id, "ham");
    expect(flipped.status).toBe(201);
    const answer = (await flipped.json()) as ReportAnswer;
    expect(answer).toMatchObject({ created: true, replaced: first.report.id, report: { verdict: "ham" } });
    expect(answer.model.generation).toBe(first.model.generation + 2);
    const standing = (await (await call(`/api/v1/feedback?messageId=${id}`)).json()) as { items: FeedbackRecord[] };
    expect(standing.items.map((r) => r.id)).toEqual([answer.report.id]);
    const withdrawn = (await (await call(`/api/v1/feedback?messageId=${id}&state=withdrawn`)).json()) as { items: FeedbackRecord[] };
    expect(withdrawn.items).toEqual([expect.objectContaining({ id: first.report.id, withdrawnBy: "ops-bob" })]);
  });

  it("withdrawing a report rebuilds the model without it, to the very bytes it had before", async () => {
    const raw = spammy("withdraw");
    const id = await stored(raw, "quarantine");
    const before = await publishedModel();
    const answer = (await (await report(id, "ham")).json()) as ReportAnswer;
    expect((await publishedModel()).model).not.toBe(before.model);

    const res = await call(`/api/v1/feedback/${answer.report.id}`, "DELETE");
    expect(res.status).toBe(200);
    const withdrawal = (await res.json()) as { report: FeedbackRecord; model: ModelStatus };
    expect(withdrawal.report).toMatchObject({ id: answer.report.id, withdrawnAt: expect.any(String), withdrawnBy: "ops-bob" });
    expect(withdrawal.model).toMatchObject({ upToDate: true, generation: answer.model.generation + 1 });
    expect((await publishedModel()).model).toBe(before.model);
    expect(await score(raw, (await publishedModel()).model)).toEqual(await score(raw, before.model));

    const again = await call(`/api/v1/feedback/${answer.report.id}`, "DELETE");
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: "already_withdrawn" } });
    expect((await call("/api/v1/feedback/999999", "DELETE")).status).toBe(404);
  });

  it("two reports at once both end up in the published model", async () => {
    const [rawA, rawB] = [spammy("race-a"), spammy("race-b")];
    const [a, b] = [await stored(rawA, "quarantine"), await stored(rawB, "quarantine")];
    const answers = await Promise.all([report(a, "ham"), report(b, "ham")]);
    expect(answers.map((r) => r.status)).toEqual([201, 201]);
    const status = (await (await call("/api/v1/feedback")).json()) as { model: ModelStatus };
    expect(status.model.upToDate).toBe(true);
    const published = await publishedModel();
    expect(published.version).toBe(status.model.version);
    // Each message's own tokens (its domain, its link) are in the model as ham, whichever build was written last.
    const model = loadModel(published.model);
    const [tokensA, tokensB] = [new Set(await tokensOf(rawA)), new Set(await tokensOf(rawB))];
    for (const [mine, theirs] of [
      [tokensA, tokensB],
      [tokensB, tokensA],
    ] as const) {
      const own = [...mine].filter((t) => !theirs.has(t));
      expect(own.length).toBeGreaterThan(0);
      for (const token of own) {
        const i = model.hashes.indexOf(token);
        expect(i).toBeGreaterThanOrEqual(0);
        expect(model.ham[i]).toBe(1);
      }
    }
  });

  it("never publishes a build over a later one", async () => {
    const [rawA, rawB] = [spammy("fence-a"), spammy("fence-b")];
    const [a, b] = [await stored(rawA, "quarantine"), await stored(rawB, "quarantine")];
    await report(a, "ham");
    // A report that is stored but whose build is slow: it reads generation g…
    await env.DB.prepare("UPDATE feedback_state SET generation = generation + 1 WHERE id = 1").run();
    const { build: slow } = await buildContentModel(env.DB);
    // …while another report stores and publishes generation g + 1.
    expect((await report(b, "ham")).status).toBe(201);
    const published = await publishedModel();
    expect(await publishContentModel(env, createExecutionContext(), slow!)).toBe(false);
    expect(await publishedModel()).toEqual(published);
    expect(published.version).not.toBe(slow!.policy.version);
  });

  it("lists reports newest first; withdrawing every report publishes the shipped model again", async () => {
    const list = (await (await call("/api/v1/feedback?limit=500")).json()) as { items: FeedbackRecord[]; model: ModelStatus };
    expect(list.items.length).toBeGreaterThan(2);
    expect(list.items.map((r) => r.id)).toEqual([...list.items.map((r) => r.id)].sort((x, y) => y - x));
    expect(list.items.every((r) => r.withdrawnAt === null)).toBe(true);
    const hams = (await (await call("/api/v1/feedback?verdict=ham")).json()) as { items: FeedbackRecord[] };
    expect(hams.items.every((r) => r.verdict === "ham")).toBe(true);

    for (const r of list.items) expect((await call(`/api/v1/feedback/${r.id}`, "DELETE")).status).toBe(200);
    const published = await publishedModel();
    expect(published.model).toBe(DEFAULT_MODEL);
    const after = (await (await call("/api/v1/feedback")).json()) as { items: FeedbackRecord[]; model: ModelStatus };
    expect(after).toMatchObject({ items: [], model: { upToDate: true, standing: { spam: 0, ham: 0 } } });
  });
});

describe("feedback refusals", () => {
  it("refuses what it cannot learn from, with a clear answer", async () => {
    const deleted = await stored(spammy("deleted"), "quarantine");
    expect((await call(`/api/v1/quarantine/${deleted}`, "DELETE")).status).toBe(200);
    const gone = await report(deleted, "ham", "messages");
    expect(gone.status).toBe(409);
    expect(await gone.json()).toMatchObject({ error: { code: "deleted" } });

    const parts = Array.from({ length: 2_100 }, (_, i) => `--b\r\n\r\npart ${i}\r\n`).join("");
    const hostile = await stored(`Subject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n${parts}--b--\r\n`, "quarantine");
    const unparseable = await report(hostile, "spam");
    expect(unparseable.status).toBe(422);
    expect(await unparseable.json()).toMatchObject({ error: { code: "unparseable", message: expect.stringContaining("too_many_parts") } });

    const delivered = await stored(hammy("delivered"), "accept");
    const notQuarantined = await report(delivered, "spam");
    expect(notQuarantined.status).toBe(404);
    expect(await notQuarantined.json()).toMatchObject({
      error: { code: "not_quarantined", message: expect.stringContaining(`/api/v1/messages/${delivered}/report`) },
    });
    expect((await report(999999, "spam", "messages")).status).toBe(404);

    for (const body of [{ verdict: "maybe" }, { verdict: "spam", extra: 1 }, "spam"]) {
      const res = await call(`/api/v1/messages/${delivered}/report`, "POST", body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: "bad_request", message: expect.stringContaining("verdict") } });
    }
    // curl -d sends form data as its content type; the body is still JSON, and is taken.
    const curl = await call(`/api/v1/messages/${delivered}/report`, "POST", { verdict: "spam" }, { "content-type": "application/x-www-form-urlencoded" });
    expect(curl.status).toBe(201);
  });
});

describe("the rebuilt model", () => {
  it("is the shipped model byte for byte when there is no feedback", () => {
    expect(encodeModel(mergeFeedback(defaultModel(), { nspam: 0, nham: 0, tokens: [] }))).toEqual(encodeModel(defaultModel()));
  });

  it("adds each report to the totals and to each of its tokens' counts", () => {
    const base = defaultModel();
    const known = base.hashes[0]!;
    const merged = mergeFeedback(base, {
      nspam: 2,
      nham: 1,
      tokens: [
        { hash: known, spam: 2, ham: 0 },
        { hash: 0xfffffffe, spam: 0, ham: 1 },
      ],
    });
    expect({ nspam: merged.nspam, nham: merged.nham }).toEqual({ nspam: base.nspam + 2, nham: base.nham + 1 });
    expect(merged.spam[0]).toBe(base.spam[0]! + 2);
    expect(merged.hashes[merged.hashes.length - 1]).toBe(0xfffffffe);
    expect(merged.ham[merged.hashes.length - 1]).toBe(1);
  });
});
