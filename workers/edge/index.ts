import type { Delivery } from "../../shared/delivery.ts";
import { sha256Hex } from "../../shared/directory/hash.ts";
import { DohResolver } from "../../shared/dns/doh.ts";
import { runPipeline } from "../../shared/hygiene/pipeline.ts";
import type { PipelineResult } from "../../shared/hygiene/types.ts";
import { MAX_MESSAGE_BYTES } from "../../shared/limits.ts";
import { formatReply, smtpReply } from "../../shared/smtp.ts";
import type { RejectReason } from "../../shared/verdict.ts";
import { handOff } from "./deliver.ts";
import { openDirectory } from "./directory.ts";
import { TooLargeError, readBounded } from "../../shared/bytes.ts";
import { EdgeDirectory } from "./publish.ts";
import { handleSignedDirectory } from "./publish-http.ts";
import { EDGE_DIRECTORY_PATH } from "../../shared/directory/publish-http.ts";

export { DirectoryLease } from "./lease.do.ts";
export { EdgeDirectory };

let resolver: { endpoint: string; dns: DohResolver } | undefined;

/** DNS for SPF, DKIM, DMARC and block lists: DNS-over-HTTPS with an isolate-wide answer cache; null when DNS_OVER_HTTPS is empty. */
function dnsFor(env: Env): DohResolver | null {
  const endpoint = env.DNS_OVER_HTTPS;
  if (!endpoint) return null;
  if (resolver?.endpoint !== endpoint) resolver = { endpoint, dns: new DohResolver({ endpoint }) };
  return resolver.dns;
}

/**
 * Thrown to answer the sending server with a temporary failure (4xx): Email Routing turns an
 * uncaught exception into a temporary SMTP error and the sender retries later.
 */
export class TempFailError extends Error {
  override name = "TempFailError";
}

/** The minimal view of an incoming message the handler uses (ForwardableEmailMessage satisfies it). */
export type IncomingEmail = Pick<ForwardableEmailMessage, "from" | "to" | "raw" | "rawSize" | "setReject">;

/**
 * One line of JSON per decision. Addresses are logged as short keyed-free hashes, never in clear.
 */
async function logDecision(fields: Record<string, unknown>, envelope: { from: string; to: string }): Promise<void> {
  const [from, to] = await Promise.all([sha256Hex(envelope.from.toLowerCase()), sha256Hex(envelope.to.toLowerCase())]);
  console.log(JSON.stringify({ event: "decision", ...fields, fromHash: from.slice(0, 16), toHash: to.slice(0, 16) }));
}

function refuse(message: IncomingEmail, reason: RejectReason): string {
  const text = formatReply(smtpReply(reason));
  message.setReject(text);
  return text;
}

/**
 * The Email Routing entry point: size gate → read once → hygiene pipeline → hand-over to the hub.
 * Rejections use setReject (permanent); anything transient throws (temporary, the sender retries).
 */
export async function handleEmail(message: IncomingEmail, env: Env): Promise<void> {
  const started = Date.now();
  const envelope = { from: message.from, to: message.to };
  if (message.rawSize > MAX_MESSAGE_BYTES) {
    const smtp = refuse(message, { reason: "too_large", size: message.rawSize, max: MAX_MESSAGE_BYTES });
    await logDecision({ action: "reject", smtp, size: message.rawSize }, envelope);
    return;
  }
  let raw: Uint8Array;
  try {
    // Read once: the stream cannot be read again, so every later step reuses these bytes.
    raw = await readBounded(message.raw, MAX_MESSAGE_BYTES);
  } catch (err) {
    if (!(err instanceof TooLargeError)) throw err;
    const smtp = refuse(message, { reason: "too_large", size: message.rawSize, max: MAX_MESSAGE_BYTES });
    await logDecision({ action: "reject", smtp, size: message.rawSize }, envelope);
    return;
  }

  let result: PipelineResult;
  try {
    const directory = await openDirectory(env);
    result = await runPipeline(
      { envelope: { from: message.from, to: [message.to] }, raw },
      { directory, dns: dnsFor(env), now: Date.now },
      {
        onAgentError: (agent, error) => console.error(JSON.stringify({ event: "agent_error", agent, error: String(error) })),
      },
    );
  } catch (err) {
    const smtp = formatReply(smtpReply({ reason: "directory_unavailable", detail: String(err) }));
    console.error(JSON.stringify({ event: "directory_unavailable", error: String(err) }));
    await logDecision({ action: "tempfail", smtp, size: raw.byteLength }, envelope);
    throw new TempFailError(smtp);
  }

  const summary = { action: result.action, smtp: result.smtp, scl: result.scl, size: raw.byteLength, agents: result.agents };
  switch (result.action) {
    case "reject":
      message.setReject(result.smtp);
      await logDecision({ ...summary, ms: Date.now() - started }, envelope);
      return;
    case "tempfail":
      await logDecision({ ...summary, ms: Date.now() - started }, envelope);
      throw new TempFailError(result.smtp);
    case "accept":
    case "quarantine": {
      const delivery: Delivery = {
        deliveryId: crypto.randomUUID(),
        edgeId: env.EDGE_ID,
        envelope: { from: message.from, to: result.recipients },
        raw,
        receivedAt: new Date(started).toISOString(),
        subject: result.email?.subject ?? null,
        messageId: result.email?.messageId ?? null,
        verdict: { action: result.action, scl: result.scl, agents: result.agents, tags: result.tags ?? undefined },
      };
      try {
        const stored = await handOff(env, delivery);
        if (stored.status === "refused") throw new Error(`hub refused the hand-over: ${stored.error}`);
        await logDecision({ ...summary, deliveryId: delivery.deliveryId, hub: stored.status, ms: Date.now() - started }, envelope);
      } catch (err) {
        const smtp = formatReply(smtpReply({ reason: "hub_unavailable", detail: String(err) }));
        console.error(JSON.stringify({ event: "hub_unavailable", deliveryId: delivery.deliveryId, error: String(err) }));
        await logDecision({ ...summary, action: "tempfail", smtp, deliveryId: delivery.deliveryId, ms: Date.now() - started }, envelope);
        throw new TempFailError(smtp);
      }
      return;
    }
  }
}

export default {
  async email(message, env) {
    await handleEmail(message, env);
  },

  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return Response.json({ status: "ok", service: "portcullis-edge" });
    if (url.pathname === EDGE_DIRECTORY_PATH) return handleSignedDirectory(request, env, new EdgeDirectory(ctx, env));
    return Response.json({ error: { code: "not_found", message: "No such route on the edge. Mail arrives through Email Routing." } }, { status: 404 });
  },
} satisfies ExportedHandler<Env>;
