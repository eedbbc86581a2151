import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handleEmail, TempFailError } from "../../../workers/edge/index.ts";
import { mockEmail } from "../../helpers/email-event.ts";
import { buildMessage } from "../../helpers/mail.ts";

// Storage is isolated per test file: this edge has never received a directory version.
describe("edge without a directory", () => {
  it("defers mail with 451 4.3.0 rather than bouncing it as unknown", async () => {
    const email = mockEmail({ from: "sender@example.net", to: "alice@example.com", raw: buildMessage() });
    const err = await handleEmail(email.message, env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TempFailError);
    expect((err as Error).message).toMatch(/^451 4\.3\.0 /);
    expect(email.rejected()).toBeNull();
  });
});
