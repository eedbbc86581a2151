import { readBounded } from "../../../shared/bytes.ts";
import type { Delivery } from "../../../shared/delivery.ts";
import { normaliseAddress } from "../../../shared/directory/address.ts";
import { sha256Hex } from "../../../shared/directory/hash.ts";
import type { DirectoryReader } from "../../../shared/directory/reader.ts";
import { attachmentFilter } from "../../../shared/hygiene/agents/attachment-filter.ts";
import { malware } from "../../../shared/hygiene/agents/malware.ts";
import { runPipeline } from "../../../shared/hygiene/pipeline.ts";
import type { AgentOutcome } from "../../../shared/hygiene/types.ts";
import { MAX_MESSAGE_BYTES, MAX_RECIPIENTS } from "../../../shared/limits.ts";
import { senderAllowed } from "../../../shared/relay/addresses.ts";
import { ACCEPTED_STATUSES, type RecipientResult, type RelayAnswer } from "../../../shared/relay/api.ts";
import { DkimKeyError, DkimKeyring } from "../../../shared/relay/dkim-keys.ts";
import { dkimSign } from "../../../shared/relay/dkim-sign.ts";
import { invalid, RelayError } from "../../../shared/relay/errors.ts";
import { formatReply, smtpReply } from "../../../shared/smtp.ts";
import { openDirectory } from "../directory.ts";
import { Tracker } from "../tracking.ts";
import { assertIpAllowed, clientFor, type RelayClient } from "./clients.ts";
import type { ConnectorDeps } from "./connectors.ts";
import type { Admission, RelayLimiter } from "./limiter.do.ts";
import { connectorFor, deliverExternal, deliverInternal, type ExternalOutcome, type InternalOutcome, planRecipients } from "./route.ts";
import { idempotencyKey, parseSubmission, type ReadBody, readSubmission, type Submission } from "./submission.ts";
import { type RelayFacts, trackRefused, trackRouted } from "./track.ts";
import { edgeLog } from "../../../shared/log.ts";

export { RelayLimiter } from "./limiter.do.ts";

/**
 * The relay for internal applications (Exchange's authenticated receive connector for the
 * SharePoint servers, without the load balancer): `POST /v1/relay` on every edge location.
 *
 *   key (401) → source IP (403) → Idempotency-Key, body within the client's limit (400, 413, 415)
 *   → rate limit and idempotency, in the client's Durable Object (429, 409, 422, or the stored answer)
 *   → message: JSON built, or raw checked; Bcc out, Message-ID and Date in (400, 413)
 *   → From and Sender allowed for the client (403) → malware and attachment agents (400)
 *   → DKIM signature(s) for the From domain → route: accepted domains to the upstream hubs
 *     (failover, spool), other domains to the send connector → per-recipient answer
 *
 * Every error is `{"error": {"code", "message"}}` with its status. See docs/relay.md.
 */
export const RELAY_PATH = "/v1/relay";

/** What the handler takes from outside, injectable for tests. */
export interface RelayDeps extends ConnectorDeps {
  now?: () => number;
}

/** The agents a submission must pass: an internal application is trusted as a sender, not with what it attaches. */
const RELAY_AGENTS = [malware, attachmentFilter] as const;

/** Most of a refused request's body read before answering (bytes). */
const DRAIN_BYTES = 64 * 1024;

/** Seconds a client should wait after a temporary failure. */
const RETRY_AFTER_SECONDS = 30;

let keyring: { source: string; ring: Promise<DkimKeyring> } | undefined;

/** The DKIM keys of the DKIM_KEYS secret, imported once per isolate (again when the secret changes). */
function dkimKeyring(env: Env): Promise<DkimKeyring> {
  const source = String((env as unknown as { DKIM_KEYS?: string }).DKIM_KEYS ?? "");
  if (keyring?.source !== source) keyring = { source, ring: DkimKeyring.parse(source) };
  return keyring.ring;
}

function errorResponse(err: RelayError, extra: Record<string, unknown> = {}): Response {
  const headers = new Headers({ "cache-control": "no-store" });
  if (err.retryAfter !== undefined) headers.set("retry-after", String(err.retryAfter));
  if (err.status === 401) headers.set("www-authenticate", 'Bearer realm="portcullis-relay"');
  if (err.status === 405) headers.set("allow", "POST");
  return Response.json({ error: { code: err.code, message: err.message }, ...extra }, { status: err.status, headers });
}

function limiterFor(env: Env, client: RelayClient): DurableObjectStub<RelayLimiter> {
  const namespace = (env as unknown as { RELAY_LIMITER?: DurableObjectNamespace<RelayLimiter> }).RELAY_LIMITER;
  if (namespace === undefined) throw new RelayError(503, "not_configured", "This edge has no RELAY_LIMITER binding.", RETRY_AFTER_SECONDS);
  return namespace.get(namespace.idFromName(client.id));
}

/**
 * The delivery id of a submission. With an Idempotency-Key it is derived from the client and the
 * key, so a submission retried after a crash (its key's lease lapsed) hands the hubs the same
 * delivery id, and they store it once.
 */
async function deliveryIdFor(client: RelayClient, key: string | null): Promise<string> {
  if (key === null) return crypto.randomUUID();
  const hex = await sha256Hex(`portcullis-relay\n${client.id}\n${key}`);
  // A UUID in form (version 8, RFC 9562 §5.8: custom), from the hash's first 122 bits.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The answer to a submission that passed admission: the status and JSON body, and whether it may be replayed. */
interface Answer {
  status: number;
  body: Record<string, unknown>;
  /** Something was sent or queued: the answer is kept for the Idempotency-Key. */
  keep: boolean;
  retryAfter?: number;
}

/**
 * Handles POST /v1/relay. Never throws: every failure is an HTTP status with a JSON error.
 *
 * @example
 * if (url.pathname === RELAY_PATH) return handleRelay(request, env, ctx);
 */
export async function handleRelay(request: Request, env: Env, ctx: Pick<ExecutionContext, "waitUntil">, deps: RelayDeps = {}): Promise<Response> {
  const started = (deps.now ?? Date.now)();
  let clientId: string | null = null;
  const log = (fields: Record<string, unknown>) => edgeLog(env.EDGE_ID).info("relay", { client: clientId, ...fields, ms: Date.now() - started });
  try {
    if (request.method !== "POST") throw new RelayError(405, "method_not_allowed", "Submit messages with POST.");
    let directory: DirectoryReader;
    try {
      directory = await openDirectory(env);
    } catch (err) {
      edgeLog(env.EDGE_ID).error("directory_unavailable", { error: String(err) });
      throw new RelayError(503, "unavailable", "The edge cannot read its directory right now; try again later.", RETRY_AFTER_SECONDS);
    }
    const client = await clientFor(request, directory);
    clientId = client.id;
    const ip = assertIpAllowed(request, client);
    const key = idempotencyKey(request);
    const body = await readSubmission(request, client);
    const limiter = limiterFor(env, client);
    const admission: Admission = await limiter.admit({ ratePerMinute: client.ratePerMinute, idempotencyKey: key, fingerprint: body.fingerprint });
    switch (admission.kind) {
      case "replay":
        log({ status: admission.status, replayed: true });
        return new Response(admission.body, {
          status: admission.status,
          headers: { "content-type": "application/json", "idempotent-replayed": "true", "cache-control": "no-store" },
        });
      case "busy":
        throw new RelayError(
          409,
          "idempotency_in_progress",
          "A request with this Idempotency-Key is still being processed; retry later.",
          admission.retryAfter,
        );
      case "mismatch":
        throw new RelayError(422, "idempotency_key_reused", "This Idempotency-Key was used for a different request; use a new key for a new message.");
      case "limited":
        throw new RelayError(429, "rate_limited", `This client may send ${client.ratePerMinute} message(s) a minute.`, admission.retryAfter);
      case "go":
        break;
    }
    let answer: Answer;
    try {
      answer = await submit(request, env, ctx, deps, { client, ip, key, body, directory, started });
    } catch (err) {
      if (key !== null) await limiter.release(key, body.fingerprint).catch(() => undefined);
      throw err;
    }
    const text = JSON.stringify(answer.body);
    if (key !== null) {
      // The answer is kept only once something went out; otherwise a retry runs the submission again.
      if (answer.keep)
        await limiter
          .complete(key, body.fingerprint, answer.status, text)
          .catch((err: unknown) => log({ warning: `idempotency record failed: ${String(err)}` }));
      else await limiter.release(key, body.fingerprint).catch(() => undefined);
    }
    log({
      status: answer.status,
      deliveryId: answer.body.deliveryId ?? null,
      recipients: Array.isArray(answer.body.recipients) ? answer.body.recipients.length : 0,
    });
    const headers = new Headers({ "content-type": "application/json", "cache-control": "no-store" });
    if (answer.retryAfter !== undefined) headers.set("retry-after", String(answer.retryAfter));
    return new Response(text, { status: answer.status, headers });
  } catch (err) {
    // A request refused before its body was read: take in a small one, so the client's upload
    // ends normally and it reads the answer; a large one is cut off.
    if (!request.bodyUsed && request.body !== null) await readBounded(request.body, DRAIN_BYTES).catch(() => undefined);
    if (err instanceof RelayError) {
      log({ status: err.status, code: err.code });
      return errorResponse(err);
    }
    edgeLog(env.EDGE_ID).error("relay_error", { client: clientId, error: err });
    return errorResponse(new RelayError(500, "internal", "The relay failed; try again later.", RETRY_AFTER_SECONDS));
  }
}

interface Admitted {
  client: RelayClient;
  ip: string;
  key: string | null;
  body: ReadBody;
  directory: DirectoryReader;
  started: number;
}

/** Why the agents refused a submission, as the application's operator needs to hear it. */
function refusal(result: Awaited<ReturnType<typeof runPipeline>>): RelayError {
  const reason = result.reason!;
  switch (reason.reason) {
    case "malware":
      return invalid("message_rejected", `The message was refused: it carries malware (${reason.name}).`);
    case "blocked_attachment":
      return invalid("message_rejected", `The message was refused: an attachment is not allowed (${reason.detail}).`);
    case "too_many_headers":
    case "headers_too_large":
    case "nesting_too_deep":
    case "too_many_parts":
    case "malformed":
      return invalid("invalid_message", `The message cannot be read: ${smtpReply(reason).text}.`);
    default:
      return invalid("message_rejected", `The message was refused: ${formatReply(smtpReply(reason))}.`);
  }
}

async function submit(request: Request, env: Env, ctx: Pick<ExecutionContext, "waitUntil">, deps: RelayDeps, admitted: Admitted): Promise<Answer> {
  const { client, ip, key, body, directory, started } = admitted;
  const now = new Date((deps.now ?? Date.now)());
  const message: Submission = parseSubmission(request, body, client, now);
  for (const [field, mailbox] of [
    ["From", message.from],
    ["Sender", message.sender],
  ] as const) {
    if (mailbox !== null && !senderAllowed(mailbox.address, client.allowedSenders))
      throw new RelayError(403, "sender_not_allowed", `This client may not send as ${mailbox.address} (${field}).`);
  }
  if (message.recipients.length > MAX_RECIPIENTS) throw invalid("too_many_recipients", `At most ${MAX_RECIPIENTS} recipients per message.`);

  const envelopeFrom = message.from.address;
  const tracker = new Tracker(env, ctx);
  const facts: RelayFacts = {
    clientId: client.id,
    deliveryId: null,
    messageId: message.messageId,
    sender: envelopeFrom,
    recipients: message.recipients,
    agents: [],
    size: message.raw.length,
    started,
  };
  const result = await runPipeline(
    { envelope: { from: envelopeFrom, to: message.recipients }, raw: message.raw, connection: { ip, helo: null, cloudflare: null } },
    { directory, dns: null, now: () => now.getTime() },
    { agents: RELAY_AGENTS, onAgentError: (agent, error) => edgeLog(env.EDGE_ID).error("agent_error", { agent, error: String(error) }) },
  );
  const agents: AgentOutcome[] = [{ agent: "relay", result: "pass", reason: `client ${client.id}` }, ...result.agents];
  facts.agents = agents;
  if (result.action === "tempfail") throw new RelayError(503, "unavailable", "The message cannot be checked right now; try again later.", RETRY_AFTER_SECONDS);
  if (result.action === "reject") {
    const error = refusal(result);
    trackRefused(tracker, facts, result.smtp, error.message);
    throw error;
  }

  let ring: DkimKeyring;
  try {
    ring = await dkimKeyring(env);
  } catch (err) {
    if (!(err instanceof DkimKeyError)) throw err;
    edgeLog(env.EDGE_ID).error("dkim_keys_invalid", { error: err.message });
    throw new RelayError(500, "dkim_key_invalid", "The edge's DKIM keys (DKIM_KEYS) are not usable; the operator must fix them.", RETRY_AFTER_SECONDS);
  }
  const signed = await dkimSign(message.raw, ring.keysFor(envelopeFrom), now);
  if (signed.raw.length > MAX_MESSAGE_BYTES) throw new RelayError(413, "too_large", `The signed message is larger than ${MAX_MESSAGE_BYTES} bytes.`);

  const deliveryId = await deliveryIdFor(client, key);
  facts.deliveryId = deliveryId;
  facts.size = signed.raw.length;
  let plan;
  try {
    plan = await planRecipients(directory, message.recipients);
  } catch (err) {
    // A shard the snapshot names cannot be read: a transient problem, never a reason to refuse recipients.
    edgeLog(env.EDGE_ID).error("directory_unavailable", { error: String(err) });
    throw new RelayError(503, "unavailable", "The edge cannot read its directory right now; try again later.", RETRY_AFTER_SECONDS);
  }
  const connector = plan.external.length === 0 ? null : await connectorFor(directory);
  const delivery: Delivery = {
    deliveryId,
    edgeId: env.EDGE_ID,
    envelope: { from: envelopeFrom, to: plan.internal.map((address) => normaliseAddress(address)!) },
    raw: signed.raw,
    receivedAt: new Date(started).toISOString(),
    subject: result.email?.subject ?? null,
    messageId: message.messageId,
    verdict: { action: "accept", scl: 0, agents, tags: result.tags ?? undefined },
  };
  const waitUntil = (work: Promise<unknown>) => ctx.waitUntil(work);
  const [internal, external]: [InternalOutcome | null, ExternalOutcome | null] = await Promise.all([
    plan.internal.length === 0 ? null : deliverInternal(env, directory, delivery, plan.internal, waitUntil),
    connector === null ? null : deliverExternal(env, connector, { deliveryId, from: envelopeFrom, to: plan.external, raw: signed.raw }, deps),
  ]);
  const byAddress = new Map<string, RecipientResult>();
  for (const r of [...plan.refused, ...(internal?.results ?? []), ...(external?.results ?? [])]) byAddress.set(r.address, r);
  const recipients = message.recipients.map((address) => byAddress.get(address)!);
  trackRouted(tracker, facts, recipients, internal, external);

  const accepted = recipients.filter((r) => ACCEPTED_STATUSES.has(r.status)).length;
  if (accepted === 0) {
    const temporary = recipients.some((r) => r.status === "deferred");
    const error = temporary
      ? { code: "unavailable", message: "No recipient could be reached right now; try again later." }
      : { code: "recipients_refused", message: "Every recipient was refused." };
    return { status: temporary ? 503 : 400, body: { error, recipients }, keep: false, ...(temporary ? { retryAfter: RETRY_AFTER_SECONDS } : {}) };
  }
  const answer: RelayAnswer = {
    status: accepted === recipients.length ? "accepted" : "partial",
    messageId: message.messageId,
    deliveryId,
    recipients,
    dkim: signed.signatures,
  };
  return { status: 200, body: answer as unknown as Record<string, unknown>, keep: true };
}
