import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { handleEmail } from "../../../workers/edge/index.ts";
import { listCorpus, readCorpus } from "../../helpers/corpus.ts";
import { mockEmail } from "../../helpers/email-event.ts";
import { seedEdgeDirectory } from "../../helpers/edge-directory.ts";
import { migrateHub } from "../../helpers/hub.ts";

beforeAll(async () => {
  await migrateHub();
  await seedEdgeDirectory();
});

/**
 * Real and hostile mail written by others: every message must get a verdict — accepted and
 * stored at the hub, or refused with a permanent SMTP code — and none may make the handler throw.
 */
describe.each([
  ["mime", [".eml", ".mbox"], 250],
  ["hostile/go-fuzz", [".eml"], 600],
])("corpus %s", (dir, extensions, atLeast) => {
  it("gives every message a verdict without an exception", async () => {
    const files = await listCorpus(dir, extensions);
    expect(files.length).toBeGreaterThanOrEqual(atLeast);
    const before = await env.HUB_DB.prepare("SELECT COUNT(*) AS n FROM messages").first<{ n: number }>();
    const verdicts = { accepted: 0, rejected: 0 };
    const failures: string[] = [];
    for (const file of files) {
      const email = mockEmail({ from: "sender@example.net", to: "alice@example.com", raw: await readCorpus(file) });
      try {
        await handleEmail(email.message, env);
        const rejected = email.rejected();
        if (rejected === null) verdicts.accepted++;
        else if (/^5\d\d 5\.\d\.\d /.test(rejected)) verdicts.rejected++;
        else failures.push(`${file}: odd reply ${rejected}`);
      } catch (err) {
        failures.push(`${file}: threw ${String(err)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(verdicts.accepted + verdicts.rejected).toBe(files.length);
    // Everything accepted reached the hub's mailbox.
    const after = await env.HUB_DB.prepare("SELECT COUNT(*) AS n FROM messages").first<{ n: number }>();
    expect(after!.n - before!.n).toBe(verdicts.accepted);
    console.log(JSON.stringify({ corpus: dir, files: files.length, ...verdicts }));
  });
});
