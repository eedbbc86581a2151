import { describe, expect, it } from "vitest";
import { afterOutcome, breakerState, CLOSED } from "../../shared/delivery/breaker.ts";
import { decodeDelivery, encodeDelivery, FrameError } from "../../shared/delivery/frame.ts";
import { planAttempts, WeightedRoundRobin, type HubConfig } from "../../shared/delivery/router.ts";
import { deliverySettings, retryDelaySeconds } from "../../shared/delivery/settings.ts";
import type { BreakerState } from "../../shared/delivery/breaker.ts";

const hub = (id: string, priority: number, weight = 1, maxConcurrency = 10): HubConfig => ({
  id,
  transport: "binding",
  binding: "HUB",
  priority,
  weight,
  maxConcurrency,
});
const allClosed = (): BreakerState => "closed";
const idle = (): boolean => false;

describe("planAttempts", () => {
  it("offers the lowest priority group first, like MX preference", () => {
    const plan = planAttempts([hub("backup", 20), hub("primary", 10)], allClosed, idle, new WeightedRoundRobin());
    expect(plan.map((p) => p.hub.id)).toEqual(["primary", "backup"]);
  });

  it("spreads a group by weight (smooth weighted round-robin) and always lists every hub", () => {
    const rr = new WeightedRoundRobin();
    const hubs = [hub("big", 10, 3), hub("small", 10, 1), hub("backup", 20)];
    const firsts = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const plan = planAttempts(hubs, allClosed, idle, rr);
      expect(plan.map((p) => p.hub.id).sort()).toEqual(["backup", "big", "small"]);
      expect(plan[2]!.hub.id).toBe("backup");
      firsts.set(plan[0]!.hub.id, (firsts.get(plan[0]!.hub.id) ?? 0) + 1);
    }
    expect(firsts.get("big")).toBe(300);
    expect(firsts.get("small")).toBe(100);
  });

  it("puts hubs with an open breaker last, but still lists them", () => {
    const state = (id: string): BreakerState => (id === "primary" ? "open" : "closed");
    const plan = planAttempts([hub("primary", 10), hub("backup", 20)], state, idle, new WeightedRoundRobin());
    expect(plan).toEqual([
      { hub: expect.objectContaining({ id: "backup" }), standing: "healthy" },
      { hub: expect.objectContaining({ id: "primary" }), standing: "down" },
    ]);
  });

  it("keeps priority order among hubs that are all down, and ranks half-open and busy hubs between", () => {
    const states: Record<string, BreakerState> = { a: "open", b: "open", c: "half-open", d: "closed" };
    const plan = planAttempts(
      [hub("b", 20), hub("a", 10), hub("c", 30), hub("d", 40)],
      (id) => states[id]!,
      (h) => h.id === "d",
      new WeightedRoundRobin(),
    );
    expect(plan.map((p) => `${p.hub.id}:${p.standing}`)).toEqual(["c:half-open", "d:busy", "a:down", "b:down"]);
  });
});

describe("circuit breaker", () => {
  it("opens after N consecutive failures, reads half-open after the open period, closes on success", () => {
    let r = CLOSED;
    r = afterOutcome(r, false, 1000, 3, 30);
    r = afterOutcome(r, false, 2000, 3, 30);
    expect(breakerState(r, 2000, 30)).toBe("closed");
    r = afterOutcome(r, false, 3000, 3, 30);
    expect(r.openedAt).toBe(3000);
    expect(breakerState(r, 3000 + 29_999, 30)).toBe("open");
    expect(breakerState(r, 3000 + 30_000, 30)).toBe("half-open");
    // A failed half-open probe opens it for another full period.
    const reopened = afterOutcome(r, false, 40_000, 3, 30);
    expect(reopened.openedAt).toBe(40_000);
    expect(breakerState(reopened, 60_000, 30)).toBe("open");
    expect(afterOutcome(reopened, true, 80_000, 3, 30)).toEqual(CLOSED);
  });

  it("a success in between resets the count", () => {
    let r = afterOutcome(CLOSED, false, 1, 2, 30);
    r = afterOutcome(r, true, 2, 2, 30);
    r = afterOutcome(r, false, 3, 2, 30);
    expect(breakerState(r, 3, 30)).toBe("closed");
  });
});

describe("delivery settings", () => {
  it("defaults follow Exchange's transport timings and stay inside the email handler's wall clock", () => {
    const s = deliverySettings(null);
    expect(s.delayNoticeAfterSeconds).toBe(4 * 3600);
    expect(s.expireAfterSeconds).toBe(2 * 86400);
    expect(s.budgetMs).toBeLessThan(30_000);
    expect(s.attemptTimeoutMs).toBeLessThanOrEqual(s.budgetMs);
  });

  it("backs off exponentially up to the cap (and never past a queue's 12 h)", () => {
    const s = deliverySettings({ retryBaseSeconds: 60, retryMaxSeconds: 3600 });
    expect([1, 2, 3, 4, 7, 8, 50].map((n) => retryDelaySeconds(s, n))).toEqual([60, 120, 240, 480, 3600, 3600, 3600]);
    expect(retryDelaySeconds(deliverySettings({ retryBaseSeconds: 43_200, retryMaxSeconds: 43_200 }), 5)).toBe(43_200);
  });
});

describe("delivery frame", () => {
  it("round-trips a delivery byte for byte", () => {
    const raw = new Uint8Array([0, 1, 2, 255, 13, 10]);
    const d = {
      deliveryId: crypto.randomUUID(),
      edgeId: "e",
      envelope: { from: "a@b.example", to: ["c@d.example"] },
      raw,
      receivedAt: new Date(0).toISOString(),
      subject: "ü",
      messageId: null,
      verdict: { action: "accept" as const, scl: 1, agents: [] },
    };
    const back = decodeDelivery(encodeDelivery(d));
    expect({ ...back, raw: [...back.raw] }).toEqual({ ...d, raw: [...raw] });
  });

  it("refuses anything that is not a frame, or whose header length lies", () => {
    expect(() => decodeDelivery(new TextEncoder().encode("From: x\r\n\r\nhello"))).toThrow(FrameError);
    const frame = encodeDelivery({
      deliveryId: crypto.randomUUID(),
      edgeId: "e",
      envelope: { from: "", to: ["c@d.example"] },
      raw: new Uint8Array(4),
      receivedAt: new Date(0).toISOString(),
      subject: null,
      messageId: null,
      verdict: { action: "accept", scl: 0, agents: [] },
    });
    new DataView(frame.buffer).setUint32(6, 0xffffffff);
    expect(() => decodeDelivery(frame)).toThrow(/out of range/);
  });
});
