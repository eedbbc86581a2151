import type { InboundMail } from "../../shared/hygiene/types.ts";

/** An InboundMail as the pipeline hands it to body agents, for driving one agent directly. */
export function inboundMail(email: InboundMail["email"], overrides: Partial<InboundMail> = {}): InboundMail {
  return {
    envelope: { from: "a@example.net", to: ["alice@example.com"] },
    raw: new Uint8Array(0),
    recipients: ["alice@example.com"],
    email,
    connection: { ip: null, helo: null, cloudflare: null },
    scl: null,
    auth: null,
    notes: {},
    ...overrides,
  };
}
