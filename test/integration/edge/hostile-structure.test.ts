import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { handleEmail } from "../../../workers/edge/index.ts";
import { hostileInputs } from "../../../scripts/eval/hostile-inputs.ts";
import { mockEmail } from "../../helpers/email-event.ts";
import { seedEdgeDirectory } from "../../helpers/edge-directory.ts";
import { migrateHub } from "../../helpers/hub.ts";

beforeAll(async () => {
  await migrateHub();
  await seedEdgeDirectory();
});

// Time and memory bounds are measured in Node by `npm run eval` (test/node/robustness.test.ts):
// inside workerd timers do not advance during pure CPU work.
describe("hostile structure through the edge's email()", () => {
  it.each(hostileInputs().map((c) => [c.name, c.raw] as const))("gives %s a verdict without an exception", async (_, raw) => {
    const email = mockEmail({ from: "a@example.net", to: "alice@example.com", raw });
    await expect(handleEmail(email.message, env)).resolves.toBeUndefined();
    const rejected = email.rejected();
    expect(rejected === null || /^5\d\d 5\.\d\.\d /.test(rejected)).toBe(true);
  });
});
