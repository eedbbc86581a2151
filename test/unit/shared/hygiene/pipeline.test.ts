import { describe, expect, it, vi } from "vitest";
import { memoryDirectory } from "../../../../shared/directory/memory.ts";
import { runPipeline } from "../../../../shared/hygiene/pipeline.ts";
import type { Agent } from "../../../../shared/hygiene/types.ts";
import { limits } from "../../../../shared/hygiene/agents/limits.ts";
import { AGENT_TIMEOUT_MS, MAX_HEADER_FIELDS, MAX_HEADERS_BYTES, MAX_MIME_NESTING_DEPTH, MAX_MIME_PARTS } from "../../../../shared/limits.ts";
import { countHeaderFields, countMimeParts, parseMessage } from "../../../../shared/hygiene/parse.ts";
import { bytesOf, buildMessage } from "../../../helpers/mail.ts";

const directory = await memoryDirectory({
  domains: ["example.com"],
  recipients: ["alice@example.com", "bob@example.com", { address: "internal@example.com", rejectInternet: true }],
});
const envelope = (to: string[]) => ({ from: "sender@example.net", to });

describe("hygiene pipeline", () => {
  it("accepts mail for a known recipient and records every agent", async () => {
    const result = await runPipeline({ envelope: envelope(["Alice@Example.com"]), raw: bytesOf(buildMessage({ subject: "Hi" })) }, { directory });
    expect(result.action).toBe("accept");
    expect(result.smtp).toBe("250 2.0.0 OK");
    expect(result.recipients).toEqual(["alice@example.com"]);
    expect(result.email?.subject).toBe("Hi");
    // Envelope agents, then the one parse, then header and body agents, in AGENTS order.
    expect(result.agents.map((a) => [a.agent, a.result])).toEqual([
      ["limits", "pass"],
      ["connection-filter", "skip"],
      ["recipient-filter", "pass"],
      ["parse", "pass"],
      ["sender-filter", "pass"],
      ["authentication", "skip"],
      ["malware", "pass"],
      ["attachment-filter", "pass"],
      ["content-filter", "pass"],
    ]);
  });

  it("rejects an unknown recipient at an accepted domain with 550 5.1.1, before parsing", async () => {
    const result = await runPipeline({ envelope: envelope(["nobody@example.com"]), raw: bytesOf(buildMessage()) }, { directory });
    expect(result.action).toBe("reject");
    expect(result.smtp).toMatch(/^550 5\.1\.1 /);
    expect(result.agents.map((a) => a.agent)).not.toContain("parse");
  });

  it("refuses mail from the internet for a recipient flagged internal-only with 550 5.7.1", async () => {
    const result = await runPipeline({ envelope: envelope(["internal@example.com"]), raw: bytesOf(buildMessage()) }, { directory });
    expect(result.action).toBe("reject");
    expect(result.reason).toEqual({ reason: "recipient_restricted" });
    expect(result.smtp).toMatch(/^550 5\.7\.1 /);
  });

  it("refuses to relay for a domain it does not accept with 550 5.7.1", async () => {
    const result = await runPipeline({ envelope: envelope(["alice@elsewhere.example"]), raw: bytesOf(buildMessage()) }, { directory });
    expect(result.action).toBe("reject");
    expect(result.smtp).toMatch(/^550 5\.7\.1 /);
    expect(result.reason).toEqual({ reason: "relay_denied", domain: "elsewhere.example" });
  });

  it("keeps the known recipients of a mixed list and drops the others", async () => {
    const result = await runPipeline(
      { envelope: envelope(["nobody@example.com", "bob@example.com", "x@elsewhere.example"]), raw: bytesOf(buildMessage()) },
      { directory },
    );
    expect(result.action).toBe("accept");
    expect(result.recipients).toEqual(["bob@example.com"]);
    expect(result.agents.find((a) => a.agent === "recipient-filter")?.reason).toMatch(/1 known, 2 refused/);
  });

  it("skips recipient validation when no directory is loaded", async () => {
    const result = await runPipeline({ envelope: envelope(["anyone@anywhere.example"]), raw: bytesOf(buildMessage()) }, { directory: null });
    expect(result.action).toBe("accept");
    expect(result.agents.find((a) => a.agent === "recipient-filter")?.result).toBe("skip");
  });

  it("skips recipient validation when there is no envelope recipient (offline scan)", async () => {
    const result = await runPipeline({ envelope: envelope([]), raw: bytesOf(buildMessage()) }, { directory });
    expect(result.action).toBe("accept");
    expect(result.agents.find((a) => a.agent === "recipient-filter")).toEqual({ agent: "recipient-filter", result: "skip", reason: "no envelope recipient" });
  });

  it("refuses a malformed envelope address with 553 5.1.3", async () => {
    const result = await runPipeline({ envelope: envelope(["alice@example.com\r\nDATA"]), raw: bytesOf(buildMessage()) }, { directory });
    expect(result.smtp).toMatch(/^553 5\.1\.3 /);
  });

  it("defers when there are too many recipients", async () => {
    const many = Array.from({ length: 101 }, (_, i) => `user${i}@example.com`);
    const result = await runPipeline({ envelope: envelope(many), raw: bytesOf(buildMessage()) }, { directory });
    expect(result.action).toBe("tempfail");
    expect(result.smtp).toMatch(/^452 4\.5\.3 /);
  });

  it("rejects a header block over the limit with 552 5.3.4", async () => {
    const big = buildMessage({ headers: { "X-Filler": "a".repeat(MAX_HEADERS_BYTES + 10) } });
    const result = await runPipeline({ envelope: envelope(["alice@example.com"]), raw: bytesOf(big) }, { directory });
    expect(result.action).toBe("reject");
    expect(result.smtp).toMatch(/^552 5\.3\.4 /);
    expect(result.agents.at(-1)).toEqual({ agent: "parse", result: "fail", reason: "headers_too_large" });
  });

  it("rejects more header fields than the limit with 552 5.3.4, counting folded lines once", async () => {
    const many = `${Array.from({ length: MAX_HEADER_FIELDS + 1 }, (_, i) => `X-H${i}: v`).join("\r\n")}\r\n\r\nbody`;
    const result = await runPipeline({ envelope: envelope(["alice@example.com"]), raw: bytesOf(many) }, { directory });
    expect(result.reason).toEqual({ reason: "too_many_headers", count: MAX_HEADER_FIELDS + 1, max: MAX_HEADER_FIELDS });
    expect(result.smtp).toMatch(/^552 5\.3\.4 /);
    expect(countHeaderFields(bytesOf("A: 1\r\n folded\r\n\tagain\r\nB: 2\r\n\r\nC: body"))).toBe(2);
  });

  it("rejects MIME nested past the limit with 554 5.6.0", async () => {
    const depth = MAX_MIME_NESTING_DEPTH + 5;
    let body = "innermost\r\n";
    for (let i = depth; i > 0; i--) {
      body = `--b${i}\r\nContent-Type: ${i === depth ? "text/plain" : `multipart/mixed; boundary="b${i + 1}"`}\r\n\r\n${body}\r\n--b${i}--\r\n`;
    }
    const raw = `From: a@example.net\r\nTo: alice@example.com\r\nMessage-ID: <deep@x>\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n${body}`;
    const result = await runPipeline({ envelope: envelope(["alice@example.com"]), raw: bytesOf(raw) }, { directory });
    expect(result.action).toBe("reject");
    expect(result.smtp).toMatch(/^554 5\.6\.0 /);
  });

  it("rejects a message with more MIME parts than the limit before parsing it, with 554 5.6.0", async () => {
    const raw = `From: a@example.net\r\nMessage-ID: <p@x>\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n${"--x\r\n\r\n".repeat(MAX_MIME_PARTS + 1)}--x--\r\n`;
    const result = await runPipeline({ envelope: envelope(["alice@example.com"]), raw: bytesOf(raw) }, { directory });
    expect(result.reason).toEqual({ reason: "too_many_parts", count: MAX_MIME_PARTS + 1, max: MAX_MIME_PARTS });
    expect(result.smtp).toMatch(/^554 5\.6\.0 /);
  });

  it("counts parts per declared boundary, not every line that starts with two dashes", () => {
    const raw = bytesOf(
      `Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n-- \r\nsignature\r\n--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\n\r\na\r\n--b2\r\n\r\nb\r\n--b2--\r\n--b1--\r\n`,
    );
    expect(countMimeParts(raw)).toBe(4);
  });

  it("finds part lines after lines full of dashes", () => {
    const raw = bytesOf(
      `Content-Type: multipart/mixed; boundary="--=_b"\r\n\r\nA well-known, hard-won -- long-standing -- rule\r\n----=_b\r\n\r\na\r\n-x-\r\n----=_b\r\n\r\nb\r\n----=_b--\r\n`,
    );
    expect(countMimeParts(raw)).toBe(2);
  });

  it("parses a message held in part of a larger buffer, and only that part", async () => {
    const message = bytesOf(buildMessage({ subject: "Inside", body: "the middle\r\n" }));
    const buffer = new Uint8Array(message.length + 200).fill(0x41);
    buffer.set(message, 100);
    const parsed = await parseMessage(buffer.subarray(100, 100 + message.length));
    expect(parsed.ok && parsed.email.subject).toBe("Inside");
    expect(parsed.ok && parsed.email.text).toBe("the middle\n");
    const whole = await parseMessage(message);
    expect(whole.ok && whole.email.text).toBe("the middle\n");
  });

  it("gives binary noise a verdict instead of throwing", async () => {
    const noise = new Uint8Array(4096).map((_, i) => (i * 7919) % 256);
    const result = await runPipeline({ envelope: envelope(["alice@example.com"]), raw: noise }, { directory });
    expect(["accept", "reject", "quarantine"]).toContain(result.action);
  });

  describe("failure modes", () => {
    const boom = (failMode: "open" | "closed"): Agent => ({
      name: `boom-${failMode}`,
      phase: "headers",
      failMode,
      check: async () => {
        throw new Error("lookup exploded");
      },
    });

    it("carries on past a fail-open agent that throws, recording the error", async () => {
      const errors: string[] = [];
      const result = await runPipeline(
        { envelope: envelope(["alice@example.com"]), raw: bytesOf(buildMessage()) },
        { directory },
        {
          agents: [limits, boom("open")],
          onAgentError: (agent) => errors.push(agent),
        },
      );
      expect(result.action).toBe("accept");
      expect(errors).toEqual(["boom-open"]);
      expect(result.agents.find((a) => a.agent === "boom-open")).toMatchObject({ result: "skip", reason: expect.stringMatching(/lookup exploded/) });
    });

    it("defers the message when a fail-closed agent throws", async () => {
      const result = await runPipeline(
        { envelope: envelope(["alice@example.com"]), raw: bytesOf(buildMessage()) },
        { directory },
        { agents: [limits, boom("closed")] },
      );
      expect(result.action).toBe("tempfail");
      expect(result.smtp).toMatch(/^451 4\.3\.0 /);
    });

    const hang = (failMode: "open" | "closed"): Agent => ({
      name: `hang-${failMode}`,
      phase: "body",
      failMode,
      check: () => new Promise(() => {}),
    });

    it("defers when a fail-closed agent does not finish in time, and carries on past a fail-open one", async () => {
      vi.useFakeTimers();
      try {
        const raw = bytesOf(buildMessage());
        const closed = runPipeline({ envelope: envelope(["alice@example.com"]), raw }, { directory }, { agents: [limits, hang("closed")] });
        await vi.advanceTimersByTimeAsync(AGENT_TIMEOUT_MS);
        const deferred = await closed;
        expect(deferred.action).toBe("tempfail");
        expect(deferred.reason).toMatchObject({ reason: "agent_failed", agent: "hang-closed", detail: expect.stringMatching(/did not finish/) });

        const open = runPipeline({ envelope: envelope(["alice@example.com"]), raw }, { directory }, { agents: [limits, hang("open"), limits] });
        await vi.advanceTimersByTimeAsync(AGENT_TIMEOUT_MS);
        const carried = await open;
        expect(carried.action).toBe("accept");
        expect(carried.agents.map((a) => [a.agent, a.result])).toEqual([
          ["limits", "pass"],
          ["parse", "pass"],
          ["hang-open", "skip"],
          ["limits", "pass"],
        ]);
        // Every time limit ends with the message: no timer outlives it.
        expect(vi.getTimerCount()).toBe(0);
      } finally {
        vi.useRealTimers();
      }
    });

    it("defers when the directory cannot be read (closed recipient filter)", async () => {
      const broken = {
        root: "x",
        isAcceptedDomain: async () => true,
        lookupRecipient: async () => Promise.reject(new Error("KV unavailable")),
        policy: async () => null,
        addressKey: async () => "",
      };
      const result = await runPipeline({ envelope: envelope(["alice@example.com"]), raw: bytesOf(buildMessage()) }, { directory: broken });
      expect(result.action).toBe("tempfail");
      expect(result.reason).toMatchObject({ reason: "agent_failed", agent: "recipient-filter" });
    });
  });
});
