import { describe, expect, it, vi } from "vitest";
import { AddressHasher, agentSummary, formatLogLine, hashAddress, hashEnvelope, Logger, REDACTED_ADDRESS } from "../../../shared/log.ts";

const KEY = "unit-test-directory-key-0123456789";

describe("formatLogLine", () => {
  it("scrubs anything shaped like an address from every field but the Message-ID ones, and keeps the fixed fields first", () => {
    const line = JSON.parse(
      formatLogLine(
        { worker: "edge", id: "edge-1" },
        "error",
        "hub_unavailable",
        { messageId: "<abc@mail.example.net>" },
        {
          error: "hub refused: recipient Alice.Smith+tag@Example.COM unknown",
          nested: { list: ["x", "bob@example.org"] },
          dsnMessageId: "<dsn-1@example.com>",
          event: "overridden?",
          failure: new Error("550 for carol@example.net"),
        },
      ),
    ) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: "error",
      event: "hub_unavailable",
      worker: "edge",
      edgeId: "edge-1",
      messageId: "<abc@mail.example.net>",
      deliveryId: null,
      error: `hub refused: recipient ${REDACTED_ADDRESS} unknown`,
      nested: { list: ["x", REDACTED_ADDRESS] },
      dsnMessageId: "<dsn-1@example.com>",
      failure: `Error: 550 for ${REDACTED_ADDRESS}`,
    });
    expect(Object.keys(line).slice(0, 7)).toEqual(["ts", "level", "event", "worker", "edgeId", "messageId", "deliveryId"]);
  });
});

describe("Logger", () => {
  it("writes each level with its console method and carries the message's ids on every line", () => {
    const sink = { debug: vi.fn(), log: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const log = new Logger({ worker: "hub", id: "hub-1" }, {}, sink).with({ messageId: "<m@x.example>", deliveryId: "d-1" });
    log.info("a", { n: 1 });
    log.warn("b");
    log.error("c", { deliveryId: "d-2" });
    log.debug("d");
    const parsed = (fn: ReturnType<typeof vi.fn>) => JSON.parse(String(fn.mock.calls[0]![0])) as Record<string, unknown>;
    expect(parsed(sink.log)).toMatchObject({ level: "info", event: "a", worker: "hub", hubId: "hub-1", messageId: "<m@x.example>", deliveryId: "d-1", n: 1 });
    expect(parsed(sink.warn)).toMatchObject({ level: "warn", event: "b" });
    expect(parsed(sink.error)).toMatchObject({ level: "error", event: "c", deliveryId: "d-2" });
    expect(parsed(sink.debug)).toMatchObject({ level: "debug", event: "d" });
  });
});

describe("address hashes", () => {
  it("hash the normalised address under the key, 16 hex digits, the same for every spelling of one address", async () => {
    const hasher = (await AddressHasher.cached(KEY))!;
    const h = await hasher.hash("alice@example.com");
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(await hasher.hash("<Alice@EXAMPLE.com.>")).toBe(h);
    expect(await hasher.hash("bob@example.com")).not.toBe(h);
    const other = (await AddressHasher.cached("another-directory-key-0123456789"))!;
    expect(await other.hash("alice@example.com")).not.toBe(h);
  });

  it("give the null sender as an empty string, hash what does not normalise, and are null without a usable key", async () => {
    expect(await hashEnvelope(KEY, { from: "", to: "alice@example.com" })).toEqual({ fromHash: "", toHash: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect((await hashEnvelope(KEY, { from: "not an address", to: "x" })).fromHash).toMatch(/^[0-9a-f]{16}$/);
    expect(await hashEnvelope(undefined, { from: "a@b.example", to: "c@d.example" })).toEqual({ fromHash: null, toHash: null });
    expect(await hashEnvelope("short", { from: "a@b.example", to: "c@d.example" })).toEqual({ fromHash: null, toHash: null });
  });

  it("hash one address as the envelope's fields do, null without a usable key", async () => {
    const { toHash } = await hashEnvelope(KEY, { from: "", to: "alice@example.com" });
    expect(await hashAddress(KEY, "Alice@Example.com")).toBe(toHash);
    expect(await hashAddress(undefined, "alice@example.com")).toBeNull();
  });
});

describe("agentSummary", () => {
  it("keeps each agent's result, the reason code only for what did not pass, and never the free-text detail", () => {
    expect(
      agentSummary([
        { agent: "limits", result: "pass", reason: "369 bytes" },
        { agent: "content-filter", result: "fail", reason: "spam", detail: "SCL 9: GTUBE from eve@evil.example" },
      ]),
    ).toEqual([
      { agent: "limits", result: "pass" },
      { agent: "content-filter", result: "fail", reason: "spam" },
    ]);
  });
});
