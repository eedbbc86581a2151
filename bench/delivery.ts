import type { Stack } from "./stack.ts";
import { edgeView, waitConverged } from "./sync.ts";

/** Concurrent senders, like SMTP sessions from several servers at once. */
export const DELIVERY_CONCURRENCY = 8;
/** Messages per measurement; enough for a steady rate, short enough for CI's machines. */
const DELIVERY_MESSAGES = 400;
/** Warm-up messages before each measurement (isolates, caches, the breaker's first failures). */
const WARMUP_MESSAGES = 40;

/** Sends `count` messages for alice through the edge's local email endpoint with DELIVERY_CONCURRENCY senders; returns msgs/s. */
async function throughput(stack: Stack, count: number): Promise<number> {
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: DELIVERY_CONCURRENCY }, async () => {
      while (next < count) {
        next++;
        const res = await stack.sendMail("sender@example.net", "alice@example.com");
        await res.arrayBuffer();
        if (res.status !== 200) failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  if (failed > 0) throw new Error(`${failed} of ${count} messages were not accepted`);
  return count / seconds;
}

async function setHubs(stack: Stack, hubs: unknown[] | null): Promise<void> {
  const version = (await edgeView(stack)).version ?? 0;
  const res =
    hubs === null ? await stack.admin("DELETE", "/policies/hubs") : await stack.admin("PUT", "/policies/hubs", JSON.stringify(hubs), "application/json");
  if (!res.ok && res.status !== 404) throw new Error(`hubs policy: ${res.status} ${await res.text()}`);
  await waitConverged(stack, version);
  // The edge's isolates re-read the directory pointer within 2 s.
  await new Promise((r) => setTimeout(r, 2_500));
}

/**
 * End-to-end delivery throughput through the `npm start` stack (edge → hub over the service
 * binding, stored in R2 + D1), and the same with a second, dead hub in the same priority group:
 * its breaker must open after a few failures so it costs almost nothing.
 */
export async function deliveryFigures(stack: Stack, log: (line: string) => void): Promise<Record<string, number>> {
  const figures: Record<string, number> = { "delivery.e2e.concurrency": DELIVERY_CONCURRENCY };
  await throughput(stack, WARMUP_MESSAGES);
  figures["delivery.e2e.msgsPerSec"] = await throughput(stack, DELIVERY_MESSAGES);
  log(`delivery: ${figures["delivery.e2e.msgsPerSec"].toFixed(1)} msgs/s with ${DELIVERY_CONCURRENCY} senders`);

  await setHubs(stack, [
    { id: "hub-local", transport: "binding", binding: "HUB", priority: 0, weight: 1, maxConcurrency: 1000 },
    // Nothing listens there: every attempt fails at once, as a hub whose host is down would.
    { id: "hub-down", transport: "https", url: "https://127.0.0.1:9/", priority: 0, weight: 1, maxConcurrency: 1000 },
  ]);
  try {
    await throughput(stack, WARMUP_MESSAGES);
    figures["delivery.e2e.oneHubDown.msgsPerSec"] = await throughput(stack, DELIVERY_MESSAGES);
    log(`delivery with one of two hubs down: ${figures["delivery.e2e.oneHubDown.msgsPerSec"].toFixed(1)} msgs/s`);
  } finally {
    await setHubs(stack, null);
  }
  return figures;
}
