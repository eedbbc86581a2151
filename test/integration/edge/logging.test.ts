import { createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { handleEmail } from "../../../workers/edge/index.ts";
import { processSpoolBatch, type SpoolTask } from "../../../workers/edge/spool.ts";
import { chaos, edgeControl, TWO_HUBS, useHubs } from "../../helpers/delivery.ts";
import { mockEmail } from "../../helpers/email-event.ts";
import { migrateHub } from "../../helpers/hub.ts";
import { buildMessage } from "../../helpers/mail.ts";

/**
 * The edge's structured logs: one line per decision and one per delivery attempt, each in the
 * fixed shape with the message's ids, and no envelope address in clear anywhere in the output.
 */

interface Line {
  ts: string;
  level: string;
  event: string;
  worker: string;
  edgeId: string;
  messageId: string | null;
  deliveryId: string | null;
  [field: string]: unknown;
}

let output: string[] = [];

beforeAll(async () => {
  await migrateHub();
});

beforeEach(async () => {
  output = [];
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void output.push(args.map(String).join(" ")));
  }
  await useHubs(TWO_HUBS, { retryBaseSeconds: 3600, retryMaxSeconds: 7200 });
  await chaos("a", { mode: "up" });
  await chaos("b", { mode: "up" });
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Every captured line, parsed: each must be one JSON object in the fixed shape. */
function lines(): Line[] {
  return output.map((text) => {
    const line = JSON.parse(text) as Line;
    expect(Object.keys(line).slice(0, 7), text).toEqual(["ts", "level", "event", "worker", "edgeId", "messageId", "deliveryId"]);
    expect(line.worker).toBe("edge");
    expect(line.edgeId).toBe(env.EDGE_ID);
    expect(Number.isNaN(Date.parse(line.ts))).toBe(false);
    return line;
  });
}

/** The log hash of an address, computed here from its definition (docs/operations.md). */
async function logHash(address: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(env.DIRECTORY_KEY), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`portcullis-log\0${address.toLowerCase()}`)));
  return [...mac.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function expectNoAddressInClear(...addresses: string[]): void {
  expect(output.length).toBeGreaterThan(0);
  for (const text of output) for (const a of addresses) expect(text.toLowerCase(), text).not.toContain(a.toLowerCase());
}

const messageIdOf = (raw: string): string => /^Message-ID: (.*)$/m.exec(raw)![1]!.trim();

describe("edge logs", () => {
  it("writes one decision line and one line per delivery attempt, with the message's ids and hashed addresses only", async () => {
    const raw = buildMessage({ subject: "logged once" });
    const email = mockEmail({ from: "Sender.Person@example.net", to: "alice@example.com", raw });
    await handleEmail(email.message, env);
    expect(email.rejected()).toBeNull();

    expectNoAddressInClear("sender.person@example.net", "alice@example.com");
    const all = lines();
    const decisions = all.filter((l) => l.event === "decision");
    expect(decisions).toHaveLength(1);
    const decision = decisions[0]!;
    expect(decision).toMatchObject({
      level: "info",
      messageId: messageIdOf(raw),
      deliveryId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      action: "accept",
      smtp: expect.stringMatching(/^250 /),
      scl: expect.any(Number),
      hub: "hub-a",
      fromHash: await logHash("sender.person@example.net"),
      toHash: await logHash("alice@example.com"),
    });
    expect(decision.agents).toContainEqual({ agent: "recipient-filter", result: "pass" });

    const attempts = all.filter((l) => l.event === "delivery_attempt");
    expect(attempts).toEqual([
      expect.objectContaining({
        level: "info",
        messageId: decision.messageId,
        deliveryId: decision.deliveryId,
        hub: "hub-a",
        outcome: "delivered",
        status: "stored",
        attempt: 1,
        round: 1,
        ms: expect.any(Number),
      }),
    ]);
  });

  it("logs each hub tried: a failed attempt as a warning, then the one that took the message", async () => {
    await chaos("a", { mode: "down" });
    const raw = buildMessage({ subject: "failover logged" });
    await handleEmail(mockEmail({ from: "sender@example.net", to: "bob@example.com", raw }).message, env);
    expectNoAddressInClear("sender@example.net", "bob@example.com");
    const attempts = lines().filter((l) => l.event === "delivery_attempt");
    expect(attempts.map((a) => [a.level, a.hub, a.outcome, a.attempt, a.messageId])).toEqual([
      ["warn", "hub-a", "failed", 1, messageIdOf(raw)],
      ["info", "hub-b", "delivered", 2, messageIdOf(raw)],
    ]);
    expect(attempts[0]!.error).toEqual(expect.any(String));
    expect(new Set(attempts.map((a) => a.deliveryId)).size).toBe(1);
  });

  it("logs a rejection with its reason code and no delivery id, and never the address it refused", async () => {
    const raw = buildMessage({ subject: "refused" });
    const email = mockEmail({ from: "sender@example.net", to: "nobody@example.com", raw });
    await handleEmail(email.message, env);
    expect(email.rejected()).toMatch(/^550 5\.1\.1 /);
    expectNoAddressInClear("sender@example.net", "nobody@example.com");
    const [decision, ...rest] = lines().filter((l) => l.event === "decision");
    expect(rest).toEqual([]);
    expect(decision).toMatchObject({ action: "reject", messageId: messageIdOf(raw), deliveryId: null, toHash: await logHash("nobody@example.com") });
    expect(decision!.agents).toContainEqual({ agent: "recipient-filter", result: "fail", reason: "unknown_recipient" });
  });

  it("logs a spool retry with its round, and every attempt of it, with the message's ids", async () => {
    await chaos("a", { mode: "down" });
    await chaos("b", { mode: "down" });
    const raw = buildMessage({ subject: "spooled and logged" });
    await handleEmail(mockEmail({ from: "sender@example.net", to: "alice@example.com", raw }).message, env);
    const item = (await edgeControl().spoolList({ state: "queued", limit: 500 })).items.find((i) => i.subject === "spooled and logged")!;
    expect(lines().find((l) => l.event === "decision")).toMatchObject({ spooled: true, deliveryId: item.deliveryId, messageId: messageIdOf(raw) });

    output = [];
    const batch = createMessageBatch<SpoolTask>("portcullis-spool", [{ id: "m1", timestamp: new Date(), attempts: 1, body: { deliveryId: item.deliveryId } }]);
    await processSpoolBatch(batch, env, { mailer: null, now: Date.now });
    expectNoAddressInClear("sender@example.net", "alice@example.com");
    const all = lines();
    expect(all.filter((l) => l.event === "delivery_attempt").map((a) => [a.hub, a.outcome, a.round, a.deliveryId, a.messageId])).toEqual([
      ["hub-a", "failed", 2, item.deliveryId, messageIdOf(raw)],
      ["hub-b", "failed", 2, item.deliveryId, messageIdOf(raw)],
    ]);
    expect(all.filter((l) => l.event === "spool")).toEqual([
      expect.objectContaining({ deliveryId: item.deliveryId, messageId: messageIdOf(raw), outcome: "retry", delaySeconds: expect.any(Number) }),
    ]);
  });
});
