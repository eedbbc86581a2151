import { describe, expect, it } from "vitest";
import { DirectoryKey, toHex } from "../../../../shared/directory/hash.ts";
import { memoryDirectory } from "../../../../shared/directory/memory.ts";
import type { DirectoryData } from "../../../../shared/directory/snapshot.ts";
import { contentFilter, createContentFilter } from "../../../../shared/hygiene/agents/content-filter.ts";
import { limits } from "../../../../shared/hygiene/agents/limits.ts";
import { trainModel } from "../../../../shared/hygiene/content/bayes.ts";
import { GTUBE } from "../../../../shared/hygiene/content/gtube.ts";
import { modelToBase64 } from "../../../../shared/hygiene/content/model-codec.ts";
import { parseMessage } from "../../../../shared/hygiene/parse.ts";
import { runPipeline } from "../../../../shared/hygiene/pipeline.ts";
import type { Agent, AgentContext, AuthResults } from "../../../../shared/hygiene/types.ts";
import { listCorpus, readCorpus } from "../../../helpers/corpus.ts";
import { buildMessage, bytesOf } from "../../../helpers/mail.ts";
import { inboundMail } from "../../../helpers/inbound.ts";

const NOW = Date.parse("2026-11-21T09:00:00Z");
const SECRET = "content-filter-test-key-0123456789abcdef";
const key = await DirectoryKey.import(SECRET);
const hashOf = async (address: string) => toHex(await key.hashAddress(address));

const RECIPIENTS: DirectoryData["recipients"] = ["alice@example.com", "bob@example.com", { address: "strict@example.com", sclOverride: 0 }];
const directoryWith = (policies: Record<string, unknown> = {}) => memoryDirectory({ domains: ["example.com"], recipients: RECIPIENTS, policies }, SECRET);
const plainDirectory = await directoryWith();

/** A model that knows no token: every message gets p = 0.5 on no clues, so only the rules move its SCL. */
const emptyModel = modelToBase64(trainModel([], { minDocs: 1, maxTokens: 1 }));

const HAM = buildMessage({
  subject: "Re: notes from Tuesday's meeting",
  headers: { "In-Reply-To": "<meeting-notes@example.net>" },
  body: [
    "Hi Alice,",
    "",
    "Thanks for sending the notes. I think we agreed to move the review of the build scripts to",
    "next week, after Bob has looked at the test failures on the Linux machines. I will update",
    "the bug report and add the patch we discussed.",
    "",
    "Cheers,",
    "Sam",
  ].join("\r\n"),
});

async function run(raw: string | Uint8Array, options: { to?: string[]; from?: string; ctx?: Partial<AgentContext>; agent?: Agent } = {}) {
  return runPipeline(
    { envelope: { from: options.from ?? "sender@example.net", to: options.to ?? ["alice@example.com"] }, raw: bytesOf(raw) },
    { directory: plainDirectory, now: () => NOW, ...options.ctx },
    { agents: [limits, options.agent ?? contentFilter] },
  );
}

const outcome = (result: Awaited<ReturnType<typeof run>>) => result.agents.find((a) => a.agent === "content-filter");

/** The agent run directly, for what the pipeline result does not show (notes, SCL -1, auth). */
async function check(
  raw: string | Uint8Array,
  options: { auth?: AuthResults | null; from?: string; directory?: AgentContext["directory"]; agent?: Agent } = {},
) {
  const parsed = await parseMessage(bytesOf(raw));
  if (!parsed.ok) throw new Error("test message did not parse");
  const mail = inboundMail(parsed.email, {
    envelope: { from: options.from ?? "sender@example.net", to: ["alice@example.com"] },
    raw: bytesOf(raw),
    auth: options.auth ?? null,
  });
  const verdict = await (options.agent ?? contentFilter).check(mail, { directory: options.directory ?? plainDirectory, now: () => NOW });
  return { verdict, mail };
}

const failedDmarc: AuthResults = {
  spf: { result: "pass", domain: "partner.example" },
  dkim: [],
  dmarc: { result: "fail", domain: "partner.example", policy: "none", aligned: { spf: false, dkim: false } },
  arc: { result: "none", instances: 0 },
};

describe("content filter", () => {
  describe("GTUBE", () => {
    it("gives every message carrying the GTUBE string SCL 9 and a 550 5.7.1, in text, HTML, text and PDF attachments and PNG images", async () => {
      const caught: string[] = [];
      for (const file of await listCorpus("hostile/gtube", [".eml"])) {
        const result = await run(await readCorpus(file));
        if (result.scl !== 9) continue;
        caught.push(file.split("/").pop()!);
        expect(result.action, file).toBe("reject");
        expect(result.reason, file).toEqual({ reason: "spam", scl: 9 });
        expect(result.smtp, file).toMatch(/^550 5\.7\.1 /);
        expect(outcome(result), file).toEqual({ agent: "content-filter", result: "fail", reason: "spam", detail: expect.stringMatching(/^SCL 9: GTUBE in /) });
        expect((await check(await readCorpus(file))).verdict, file).toMatchObject({
          note: expect.stringMatching(/^SCL 9: GTUBE in (text$|html$|attachment |pdf |image )/),
        });
      }
      // Every GTUBE sample, the PNG whose string exists only as pixels included.
      expect(caught.sort()).toEqual([
        "rspamd-gtube.eml",
        "sa-gtube.eml",
        "sa-gtube_b64_oct.eml",
        "sa-gtube_pdf.eml",
        "sa-gtube_png.eml",
        "sa-gtubedcc.eml",
        "sa-gtubedcc_crlf.eml",
      ]);
    });

    it("does not take the near miss for GTUBE", async () => {
      const result = await run(await readCorpus("hostile/gtube/sa-not_gtube.eml"));
      expect(result.scl).toBeLessThan(9);
      expect(result.action).not.toBe("reject");
      expect(outcome(result)?.reason).not.toMatch(/GTUBE/);
    });

    it("finds GTUBE in an HTML-only body", async () => {
      const html = buildMessage({ headers: { "Content-Type": "text/html; charset=utf-8" }, body: `<html><body><p>${GTUBE}</p></body></html>` });
      const { verdict, mail } = await check(html);
      expect(mail.scl).toBe(9);
      expect(verdict).toMatchObject({ action: "reject", note: expect.stringMatching(/^SCL 9: GTUBE in (text|html)$/) });
    });
  });

  it("keeps an ordinary reply low and accepts it", async () => {
    const result = await run(HAM);
    expect(result.action).toBe("accept");
    expect(result.scl).toBeLessThanOrEqual(2);
    expect(outcome(result)).toMatchObject({ result: "pass", reason: expect.stringMatching(/^SCL [0-2]: bayes /) });
  });

  it("rejects real spam from outside the training set", async () => {
    const result = await run(await readCorpus("spam-train/small/spam/sa-002.eml"));
    expect(result.scl).toBeGreaterThanOrEqual(7);
    expect(result.action).toBe("reject");
    expect(result.reason).toEqual({ reason: "spam", scl: result.scl });
  });

  describe("thresholds", () => {
    const spam = buildMessage({ body: `Click http://admin@203.0.113.42/login now.\r\n` });
    const rulesOnly = createContentFilter({ model: emptyModel });

    it("quarantines at SCL 5–6 under the default thresholds", async () => {
      // No known token: 2.85 points from the model, +1.5 numeric-IP link, +1.5 user@ in the link = SCL 6.
      const result = await run(spam, { agent: rulesOnly, ctx: { directory: null } });
      expect(result.scl).toBe(6);
      expect(result.action).toBe("quarantine");
      expect(result.reason).toEqual({ reason: "spam", scl: 6 });
      const { verdict } = await check(spam, { agent: rulesOnly, directory: null });
      expect(verdict).toMatchObject({ action: "quarantine", note: expect.stringMatching(/URL_NUMERIC_IP \+1\.5; URL_USERINFO \+1\.5$/) });
    });

    it("tags, without refusing, from the tag threshold", async () => {
      // One rule on an unknown message: 2.85 + 1.5 = SCL 4, the default tag threshold.
      const tagged = buildMessage({ body: "See http://203.0.113.42/ for the agenda.\r\n" });
      const { verdict, mail } = await check(tagged, { agent: rulesOnly, directory: null });
      expect(mail.scl).toBe(4);
      expect(verdict).toMatchObject({ action: "continue", note: expect.stringMatching(/tagged$/) });
      expect(mail.notes["tag"]).toBe("spam");
    });

    it("follows the thresholds policy instead of the defaults", async () => {
      const lenient = await directoryWith({ thresholds: { reject: 9, quarantine: 8, tag: 6 } });
      const result = await run(spam, { agent: rulesOnly, ctx: { directory: lenient } });
      expect(result.scl).toBe(6);
      expect(result.action).toBe("accept");
      const { mail } = await check(spam, { agent: rulesOnly, directory: lenient });
      expect(mail.notes["tag"]).toBe("spam");

      const strict = await directoryWith({ thresholds: { reject: 6, quarantine: 5, tag: 4 } });
      expect((await run(spam, { agent: rulesOnly, ctx: { directory: strict } })).action).toBe("reject");
    });

    it("lets a recipient's SCL override replace the reject threshold, the lowest of several", async () => {
      expect((await run(HAM, { to: ["alice@example.com"] })).action).toBe("accept");
      const strict = await run(HAM, { to: ["strict@example.com"] });
      expect(strict.action).toBe("reject");
      expect(outcome(strict)?.result).toBe("fail");
      expect((await run(HAM, { to: ["alice@example.com", "strict@example.com"] })).action).toBe("reject");
    });
  });

  describe("safe senders", () => {
    const gtube = buildMessage({ from: "Partner <ops@partner.example>", body: `${GTUBE}\r\n` });

    it("skips scoring for a globally safe sender domain: SCL -1, accepted even with GTUBE", async () => {
      const directory = await directoryWith({ "safe-senders": { global: ["@partner.example"], perRecipient: {} } });
      const result = await run(gtube, { from: "ops@partner.example", ctx: { directory } });
      expect(result.action).toBe("accept");
      expect(outcome(result)).toEqual({ agent: "content-filter", result: "pass", reason: "safe sender" });
      const { mail } = await check(gtube, { from: "ops@partner.example", directory });
      expect(mail.scl).toBe(-1);
      expect(mail.notes["safe-sender"]).toBe("true");
    });

    it("honours a recipient's own safe senders, keyed by the recipient's hash, for that recipient only", async () => {
      const directory = await directoryWith({ "safe-senders": { global: [], perRecipient: { [await hashOf("alice@example.com")]: ["ops@partner.example"] } } });
      expect((await run(gtube, { from: "bounce@elsewhere.example", to: ["alice@example.com"], ctx: { directory } })).action).toBe("accept");
      expect((await run(gtube, { from: "bounce@elsewhere.example", to: ["bob@example.com"], ctx: { directory } })).action).toBe("reject");
    });

    it("does not vouch for a From: address that failed DMARC", async () => {
      const directory = await directoryWith({ "safe-senders": { global: ["@partner.example"], perRecipient: {} } });
      const { verdict, mail } = await check(gtube, { from: "bounce@elsewhere.example", auth: failedDmarc, directory });
      expect(verdict.action).toBe("reject");
      expect(mail.scl).toBe(9);
    });
  });

  it("does not score a message an earlier agent trusted (SCL -1)", async () => {
    const parsed = await parseMessage(bytesOf(buildMessage({ body: GTUBE })));
    if (!parsed.ok) throw new Error("did not parse");
    const mail = inboundMail(parsed.email, { envelope: { from: "a@b.example", to: ["alice@example.com"] }, scl: -1 });
    expect(await contentFilter.check(mail, { directory: null })).toMatchObject({ action: "continue", skipped: true });
    expect(mail.scl).toBe(-1);
  });

  it("adds failed authentication to the score", async () => {
    const spfFail: AuthResults = { ...failedDmarc, spf: { result: "fail", domain: "partner.example" } };
    const rulesOnly = createContentFilter({ model: emptyModel });
    const { mail, verdict } = await check(buildMessage(), { agent: rulesOnly, auth: spfFail, directory: null });
    // 2.85 from the model, +1 SPF fail, +2 DMARC fail = SCL 6.
    expect(mail.scl).toBe(6);
    expect(verdict).toMatchObject({ action: "quarantine", note: expect.stringMatching(/AUTH_SPF_FAIL \+1; AUTH_DMARC_FAIL \+2/) });
  });
});
