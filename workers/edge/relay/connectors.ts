import { EmailMessage } from "cloudflare:email";
import type { Policies } from "../../../shared/policy.ts";
import { SEND_EMAIL_TIMEOUT_MS, SMARTHOST_TIMEOUT_MS } from "../../../shared/relay/limits.ts";
import { signRequest } from "../../../shared/signing.ts";
import { withTimeout } from "../../../shared/timeout.ts";

/**
 * The relay's send connectors: where mail for recipients outside the accepted domains goes.
 *
 * send_email  Cloudflare Email Service through the RELAY_EMAIL binding, one send per recipient
 *             (the binding takes one envelope recipient). Email Service sends only mail whose
 *             From is on a domain onboarded to it (and, until then, only to verified addresses).
 * smarthost   one signed HTTPS POST per message to a relay host of yours:
 *               POST <url>?id=<delivery id>&from=<envelope sender>&to=<rcpt>&to=<rcpt>…
 *               Content-Type: message/rfc822, the message as the body,
 *               signed with SYNC_SIGNING_KEY like the hubs' ingest (X-Portcullis-Timestamp, -Nonce,
 *               -Signature over the method, path with the query, timestamp, nonce and body hash).
 *             2xx: taken; 4xx (but 408 and 429): refused for good; anything else: try again later.
 */

export type ConnectorConfig = Policies["relay"]["sendConnector"];

/** An outbound message for one connector. */
export interface Outbound {
  deliveryId: string;
  from: string;
  to: string[];
  raw: Uint8Array;
}

/** One recipient's outcome at the connector. */
export type ConnectorOutcome = { address: string; ok: true } | { address: string; ok: false; temporary: boolean; error: string };

/** Sends a raw message to one recipient through Email Service (tests pass their own). */
export type SendEmailFn = (from: string, to: string, raw: Uint8Array) => Promise<void>;

/** What the connectors need from outside, injectable for tests. */
export interface ConnectorDeps {
  sendEmail?: SendEmailFn;
  /** The smart host's fetch. */
  fetcher?: typeof fetch;
}

/** Sends through at most this many Email Service calls at once: bounded, yet 100 recipients do not wait in single file. */
const SEND_EMAIL_CONCURRENCY = 10;

function bindingSender(env: Env): SendEmailFn | null {
  const binding = (env as unknown as { RELAY_EMAIL?: SendEmail }).RELAY_EMAIL;
  if (binding === undefined) return null;
  return async (from, to, raw) => {
    await binding.send(new EmailMessage(from, to, new Response(raw).body!));
  };
}

async function viaSendEmail(env: Env, message: Outbound, deps: ConnectorDeps): Promise<ConnectorOutcome[]> {
  const send = deps.sendEmail ?? bindingSender(env);
  if (send === null) return message.to.map((address) => ({ address, ok: false, temporary: true, error: "the edge has no RELAY_EMAIL binding" }));
  const outcomes: ConnectorOutcome[] = [];
  for (let i = 0; i < message.to.length; i += SEND_EMAIL_CONCURRENCY) {
    const batch = message.to.slice(i, i + SEND_EMAIL_CONCURRENCY);
    outcomes.push(
      ...(await Promise.all(
        batch.map(async (address): Promise<ConnectorOutcome> => {
          try {
            await withTimeout(send(message.from, address, message.raw), SEND_EMAIL_TIMEOUT_MS, "Email Service did not answer");
            return { address, ok: true };
          } catch (err) {
            // The binding throws for a refused destination or sender as for an outage; it says no more.
            return { address, ok: false, temporary: false, error: err instanceof Error ? err.message : String(err) };
          }
        }),
      )),
    );
  }
  return outcomes;
}

async function viaSmarthost(env: Env, url: string, message: Outbound, deps: ConnectorDeps): Promise<ConnectorOutcome[]> {
  const target = new URL(url);
  target.searchParams.append("id", message.deliveryId);
  target.searchParams.append("from", message.from);
  for (const address of message.to) target.searchParams.append("to", address);
  const fail = (temporary: boolean, error: string) => message.to.map((address): ConnectorOutcome => ({ address, ok: false, temporary, error }));
  let response: Response;
  try {
    const headers = await signRequest(String(env.SYNC_SIGNING_KEY), "POST", `${target.pathname}${target.search}`, message.raw);
    const fetcher = deps.fetcher ?? fetch;
    response = await withTimeout(
      fetcher(target.toString(), {
        method: "POST",
        headers: { ...headers, "content-type": "message/rfc822" },
        body: message.raw,
        redirect: "manual",
      }),
      SMARTHOST_TIMEOUT_MS,
      "the smart host did not answer",
    );
  } catch (err) {
    return fail(true, `smart host unreachable: ${err instanceof Error ? err.message : String(err)}`);
  }
  const text = (await response.text().catch(() => "")).slice(0, 200);
  if (response.ok) return message.to.map((address) => ({ address, ok: true }));
  const temporary = response.status >= 500 || response.status === 408 || response.status === 429 || response.status < 400;
  return fail(temporary, `smart host answered HTTP ${response.status}${text === "" ? "" : `: ${text}`}`);
}

/** Hands a message to the configured connector; one outcome per recipient, never throws. */
export async function sendExternal(env: Env, connector: ConnectorConfig, message: Outbound, deps: ConnectorDeps = {}): Promise<ConnectorOutcome[]> {
  switch (connector.type) {
    case "send_email":
      return viaSendEmail(env, message, deps);
    case "smarthost":
      return viaSmarthost(env, connector.url, message, deps);
    case "none":
      return message.to.map((address) => ({ address, ok: false, temporary: false, error: "no send connector" }));
  }
}
