import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Policies } from "../../shared/policy.ts";
import { handleEmail, TempFailError } from "../../workers/edge/index.ts";
import { chaos, chaosStats, edgeControl, useHubs, waitFor, type ChaosConfig, type ChaosStats } from "../helpers/delivery.ts";
import { mockEmail } from "../helpers/email-event.ts";
import { migrateHub } from "../helpers/hub.ts";
import { buildMessage } from "../helpers/mail.ts";

/**
 * Fault injection: N messages through the edge's email() to two equal hubs that fail at random
 * (before and after storing), answer too late, and go down together for a window in the middle.
 * Every message must end up stored at the hubs exactly once — directly, after a failover, or
 * from the spool once the outage is over. `npm test` runs a small size; `npm run test:chaos`
 * runs CHAOS_MESSAGES (2,000 by default) and prints the figures.
 */
const MESSAGES = Number(env.CHAOS_MESSAGES ?? "200");
/** Messages in flight at once, like concurrent SMTP sessions at one location. */
const CONCURRENCY = 16;
const SEED = Number(env.CHAOS_SEED ?? "20261121");

const HUBS: Policies["hubs"] = [
  { id: "hub-a", transport: "binding", binding: "HUB_A", priority: 10, weight: 1, maxConcurrency: 100 },
  { id: "hub-b", transport: "binding", binding: "HUB_B", priority: 10, weight: 1, maxConcurrency: 100 },
];

const FLAKY = { failBefore: 0.08, failAfter: 0.04, late: 0.04, lateMs: 500 };

/** Injected faults, summed over every reconfiguration (each one resets a hub's counters). */
const injected: Record<"a" | "b", ChaosStats> = {
  a: { calls: 0, passed: 0, failedBefore: 0, failedAfter: 0, late: 0, down: 0 },
  b: { calls: 0, passed: 0, failedBefore: 0, failedAfter: 0, late: 0, down: 0 },
};
async function reconfigure(hub: "a" | "b", config: ChaosConfig): Promise<void> {
  const stats = await chaosStats(hub);
  for (const k of Object.keys(stats) as (keyof ChaosStats)[]) injected[hub][k] += stats[k];
  await chaos(hub, config);
}

const log = console.log;
beforeAll(async () => {
  // One decision line per message would bury the figures this suite prints.
  vi.spyOn(console, "log").mockImplementation(() => undefined);
  vi.spyOn(console, "error").mockImplementation(() => undefined);
  await migrateHub();
  await useHubs(HUBS, { attemptTimeoutMs: 250, budgetMs: 800, breakerFailures: 4, breakerOpenSeconds: 2, retryBaseSeconds: 1, retryMaxSeconds: 2 });
});

afterAll(() => {
  vi.restoreAllMocks();
});

describe("chaos: random hub failures, late answers and a full outage", () => {
  it(`delivers every one of ${MESSAGES} messages exactly once`, async () => {
    const run = crypto.randomUUID().slice(0, 8);
    const subject = (i: number) => `chaos ${run} ${i}`;
    await chaos("a", { ...FLAKY, seed: SEED });
    await chaos("b", { ...FLAKY, seed: SEED + 1 });
    const outage = { from: Math.floor(MESSAGES * 0.4), to: Math.floor(MESSAGES * 0.55) };
    let deferred = 0;
    let next = 0;
    let phase: "flaky" | "outage" | "after" = "flaky";
    let spooledInOutage = 0;

    const sendOne = async (i: number): Promise<void> => {
      // A sending server retries a deferred message; so does this test (deferrals are counted).
      for (let tries = 0; ; tries++) {
        const email = mockEmail({ from: "sender@example.net", to: "alice@example.com", raw: buildMessage({ subject: subject(i) }) });
        const err = await handleEmail(email.message, env).then(
          () => null,
          (e: unknown) => e,
        );
        if (err === null) return;
        if (!(err instanceof TempFailError) || tries > 10) throw err;
        deferred++;
      }
    };
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= MESSAGES) return;
        if (i >= outage.from && phase === "flaky") {
          phase = "outage";
          await Promise.all([reconfigure("a", { mode: "down" }), reconfigure("b", { mode: "hang", hangMs: 2000 })]);
        }
        if (i >= outage.to && phase === "outage") {
          phase = "after";
          spooledInOutage = (await edgeControl().spoolList({ state: "queued" })).counts.queued;
          await reconfigure("a", { ...FLAKY, seed: SEED + 2 });
          await reconfigure("b", { ...FLAKY, seed: SEED + 3 });
        }
        await sendOne(i);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await reconfigure("a", { mode: "up" });
    await reconfigure("b", { mode: "up" });
    const { a, b } = injected;

    // The spool drains through the real queue consumer once the hubs answer again.
    await waitFor("the spool to drain", async () => (await edgeControl().spoolList({ state: "queued" })).counts.queued === 0, 240_000);

    const rows = await env.HUB_DB.prepare("SELECT subject, COUNT(*) AS n FROM messages WHERE subject LIKE ? GROUP BY subject")
      .bind(`chaos ${run} %`)
      .all<{ subject: string; n: number }>();
    const counts = new Map(rows.results.map((r) => [r.subject, r.n]));
    const delivered = counts.size;
    const lost = Array.from({ length: MESSAGES }, (_, i) => subject(i)).filter((s) => !counts.has(s)).length;
    const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
    const dead = (await edgeControl().spoolList({ state: "dead" })).counts.dead;
    const figures = { sent: MESSAGES, delivered, lost, duplicates, deferred, spooledInOutage, dead, injected };
    log(`chaos ${JSON.stringify(figures)}`);

    // The faults really happened, or this proves nothing.
    expect(a.failedBefore + b.failedBefore).toBeGreaterThan(0);
    expect(a.failedAfter + b.failedAfter).toBeGreaterThan(0);
    expect(a.late + b.late).toBeGreaterThan(0);
    expect(a.down + b.down).toBeGreaterThan(0);
    expect(spooledInOutage).toBeGreaterThan(0);
    expect(lost).toBe(0);
    expect(duplicates).toBe(0);
    expect(delivered).toBe(MESSAGES);
    expect(dead).toBe(0);
  }, 600_000);
});
