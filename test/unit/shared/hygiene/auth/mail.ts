/** Running the authentication agent on one message, as the pipeline would. */
import type { Resolver } from "../../../../../shared/dns.ts";
import { authentication } from "../../../../../shared/hygiene/agents/authentication.ts";
import type { AgentVerdict, ConnectionInfo, InboundMail } from "../../../../../shared/hygiene/types.ts";

export interface RunOptions {
  dns?: Resolver | null;
  /** Milliseconds since the epoch the agent's clock says. */
  now?: number;
  /** Envelope sender; default "". */
  from?: string;
  ip?: string | null;
  helo?: string | null;
  cloudflare?: ConnectionInfo["cloudflare"];
}

export async function runAgent(raw: Uint8Array, options: RunOptions = {}): Promise<{ verdict: AgentVerdict; mail: InboundMail }> {
  const mail: InboundMail = {
    envelope: { from: options.from ?? "", to: ["alice@example.com"] },
    raw,
    recipients: ["alice@example.com"],
    email: null,
    connection: { ip: options.ip ?? null, helo: options.helo ?? null, cloudflare: options.cloudflare ?? null },
    scl: null,
    auth: null,
    notes: {},
  };
  const now = options.now;
  const verdict = await authentication.check(mail, { directory: null, dns: options.dns, ...(now === undefined ? {} : { now: () => now }) });
  return { verdict, mail };
}

/** The DKIM results of a run, as [domain, result] pairs, top-most signature first. */
export function dkimOf(mail: InboundMail): [string | null, string][] {
  return (mail.auth?.dkim ?? []).map((d) => [d.domain, d.result]);
}
