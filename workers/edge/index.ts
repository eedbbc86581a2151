import type { Delivery } from "../../shared/delivery.ts";
import { DohResolver } from "../../shared/dns/doh.ts";
import { runPipeline } from "../../shared/hygiene/pipeline.ts";
import type { PipelineResult } from "../../shared/hygiene/types.ts";
import { MAX_MESSAGE_BYTES } from "../../shared/limits.ts";
import { formatReply, smtpReply } from "../../shared/smtp.ts";
import type { RejectReason } from "../../shared/verdict.ts";
import { deliverToHubs } from "./deliver.ts";
import { edgeHubs } from "./hubs.ts";
import { processSpoolBatch, productionDeps, spoolDelivery, type SpoolTask } from "./spool.ts";
import { probeHubs } from "./probe.ts";
import { deliverySettings } from "../../shared/delivery/settings.ts";
import { readPolicy } from "../../shared/policy.ts";
import type { SnapshotReader } from "../../shared/directory/reader.ts";
import { openDirectory } from "./directory.ts";
import { TooLargeError, readBounded } from "../../shared/bytes.ts";
import { EdgeDirectory } from "./publish.ts";
import { handleSignedDirectory } from "./publish-http.ts";
import { EDGE_DIRECTORY_PATH } from "../../shared/directory/publish-http.ts";
import { MessageTracker, messageIdOf, Tracker } from "./tracking.ts";
import { agentSummary, edgeLog, hashEnvelope } from "../../shared/log.ts";
import { handleRelay, RELAY_PATH } from "./relay/index.ts";

export { DirectoryLease } from "./lease.do.ts";
export { HubHealthObject } from "./health.do.ts";
export { SpoolIndex } from "./spool.do.ts";
export { RelayLimiter } from "./relay/limiter.do.ts";
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
export type IncomingEmail = Pick<ForwardableEmailMessage, "from" | "to" | "raw" | "rawSize" | "setReject"> & Partial<Pick<ForwardableEmailMessage, "forward">>;

/**
 * One log line per decision (shared/log.ts): verdict, SCL, agents, SMTP reply, the message's ids,
 * and the envelope as keyed hashes, never in clear.
 */
async function logDecision(env: Env, fields: Record<string, unknown>, envelope: { from: string; to: string }): Promise<void> {
  edgeLog(env.EDGE_ID).info("decision", { ...fields, ...(await hashEnvelope(env.DIRECTORY_KEY, envelope)) });
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
export async function handleEmail(message: IncomingEmail, env: Env, ctx?: Pick<ExecutionContext, "waitUntil">): Promise<void> {
  const started = Date.now();
  const envelope = { from: message.from, to: message.to };
  const track = new MessageTracker(env, ctx, envelope, started);
  if (message.rawSize > MAX_MESSAGE_BYTES) {
    const smtp = refuse(message, { reason: "too_large", size: message.rawSize, max: MAX_MESSAGE_BYTES });
    await logDecision(env, { action: "reject", smtp, size: message.rawSize }, envelope);
    track.decision("rejected", { action: "reject", smtp, size: message.rawSize });
    return;
  }
  let raw: Uint8Array;
  try {
    // Read once: the stream cannot be read again, so every later step reuses these bytes.
    raw = await readBounded(message.raw, MAX_MESSAGE_BYTES);
  } catch (err) {
    if (!(err instanceof TooLargeError)) throw err;
    const smtp = refuse(message, { reason: "too_large", size: message.rawSize, max: MAX_MESSAGE_BYTES });
    await logDecision(env, { action: "reject", smtp, size: message.rawSize }, envelope);
    track.decision("rejected", { action: "reject", smtp, size: message.rawSize });
    return;
  }

  let result: PipelineResult;
  let directory: SnapshotReader;
  try {
    directory = await openDirectory(env);
    result = await runPipeline(
      { envelope: { from: message.from, to: [message.to] }, raw },
      { directory, dns: dnsFor(env), now: Date.now },
      {
        onAgentError: (agent, error) => edgeLog(env.EDGE_ID).error("agent_error", { agent, error: String(error) }),
      },
    );
  } catch (err) {
    const smtp = formatReply(smtpReply({ reason: "directory_unavailable", detail: String(err) }));
    edgeLog(env.EDGE_ID).error("directory_unavailable", { error: String(err) });
    await logDecision(env, { action: "tempfail", smtp, size: raw.byteLength, messageId: messageIdOf(raw) }, envelope);
    track.decision("tempfailed", { action: "tempfail", smtp, raw, detail: String(err) });
    throw new TempFailError(smtp);
  }

  const summary = {
    action: result.action,
    smtp: result.smtp,
    scl: result.scl,
    size: raw.byteLength,
    agents: agentSummary(result.agents),
    messageId: result.email?.messageId ?? messageIdOf(raw),
  };
  switch (result.action) {
    case "reject":
      message.setReject(result.smtp);
      await logDecision(env, { ...summary, ms: Date.now() - started }, envelope);
      track.decision("rejected", { result, raw });
      return;
    case "tempfail":
      await logDecision(env, { ...summary, ms: Date.now() - started }, envelope);
      track.decision("tempfailed", { result, raw });
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
      await deliverOrSpool(message, env, delivery, directory, summary, started, ctx);
      return;
    }
  }
}

/**
 * Offers an accepted message to the upstream hubs; if none takes it within the budget, spools it.
 * Returns (the sender hears "accepted") only once a hub or the spool holds the message; throws
 * (a temporary failure: the sender keeps it and retries) otherwise.
 */
async function deliverOrSpool(
  message: IncomingEmail,
  env: Env,
  delivery: Delivery,
  directory: SnapshotReader,
  summary: Record<string, unknown>,
  started: number,
  ctx: Pick<ExecutionContext, "waitUntil"> | undefined,
): Promise<void> {
  const envelope = { from: message.from, to: message.to };
  const track = new MessageTracker(env, ctx, envelope, started);
  const fail = async (detail: string): Promise<never> => {
    const smtp = formatReply(smtpReply({ reason: "hub_unavailable", detail }));
    edgeLog(env.EDGE_ID, delivery).error("hub_unavailable", { error: detail });
    await logDecision(env, { ...summary, action: "tempfail", smtp, deliveryId: delivery.deliveryId, ms: Date.now() - started }, envelope);
    track.decision("tempfailed", { delivery, smtp, detail });
    throw new TempFailError(smtp);
  };
  let hubs, settings;
  try {
    [hubs, settings] = await Promise.all([readPolicy(directory, "hubs").then(edgeHubs(env)), readPolicy(directory, "delivery").then(deliverySettings)]);
  } catch (err) {
    return fail(`delivery policy unreadable: ${String(err)}`);
  }
  const forward = message.forward
    ? async (address: string) => {
        await message.forward!(address);
      }
    : undefined;
  const outcome = await deliverToHubs(env, delivery, { hubs, settings, forward, waitUntil: ctx ? (p) => ctx.waitUntil(p) : undefined });
  track.round(delivery, outcome);
  const attempts = outcome.attempts.map((a) => ({ hub: a.hubId, ok: a.ok, ms: a.ms, ...(a.error ? { error: a.error } : {}) }));
  if (outcome.delivered) {
    await logDecision(
      env,
      { ...summary, deliveryId: delivery.deliveryId, hub: outcome.hubId, hubStatus: outcome.status, attempts, ms: Date.now() - started },
      envelope,
    );
    track.decision(delivery.verdict.action === "quarantine" ? "quarantined" : "accepted", { delivery, smtp: String(summary.smtp), hubId: outcome.hubId });
    return;
  }
  // A refused hand-over is a bug or a version mismatch, not an outage: spooling would only repeat it.
  if (outcome.refused) return fail(outcome.error);
  try {
    await spoolDelivery(env, delivery, outcome, settings);
  } catch (err) {
    return fail(`${outcome.error}; spooling failed too: ${String(err)}`);
  }
  await logDecision(env, { ...summary, deliveryId: delivery.deliveryId, spooled: true, attempts, error: outcome.error, ms: Date.now() - started }, envelope);
  track.decision("spooled", { delivery, smtp: String(summary.smtp), detail: outcome.error });
}

export default {
  async email(message, env, ctx) {
    await handleEmail(message, env, ctx);
  },

  async queue(batch, env, ctx) {
    await processSpoolBatch(batch as MessageBatch<SpoolTask>, env, { ...productionDeps(env), tracker: new Tracker(env, ctx) });
  },

  /** Every minute: the active health probe of every upstream hub. */
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(probeHubs(env));
  },

  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return Response.json({ status: "ok", service: "portcullis-edge" });
    if (url.pathname === EDGE_DIRECTORY_PATH) return handleSignedDirectory(request, env, new EdgeDirectory(ctx, env));
    if (url.pathname === RELAY_PATH) return handleRelay(request, env, ctx);
    return Response.json({ error: { code: "not_found", message: "No such route on the edge. Mail arrives through Email Routing." } }, { status: 404 });
  },
} satisfies ExportedHandler<Env>;
