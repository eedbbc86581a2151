import { EmailMessage } from "cloudflare:email";
import type { Delivery } from "../../shared/delivery.ts";
import { buildDsn, mayNotifySender } from "../../shared/delivery/dsn.ts";
import { decodeDelivery, encodeDelivery } from "../../shared/delivery/frame.ts";
import type { HubConfig } from "../../shared/delivery/router.ts";
import { deliverySettings, retryDelaySeconds, type DeliverySettings } from "../../shared/delivery/settings.ts";
import type { SpoolActionResult, SpoolItem } from "../../shared/delivery/spool-api.ts";
import { edgeLog, type LogContext } from "../../shared/log.ts";
import { readPolicy } from "../../shared/policy.ts";
import { deliverToHubs, type DeliveryAttempt, type DeliveryOutcome } from "./deliver.ts";
import { openDirectory } from "./directory.ts";
import { edgeHubs } from "./hubs.ts";
import type { SpoolIndex } from "./spool.do.ts";
import type { Tracker } from "./tracking.ts";

/** The queue message: only the key — the message itself (up to 25 MiB) rests in R2. */
export interface SpoolTask {
  deliveryId: string;
}

export const spoolKey = (edgeId: string, deliveryId: string): string => `spool/${edgeId}/${deliveryId}`;
export const deadKey = (edgeId: string, deliveryId: string): string => `dead/${edgeId}/${deliveryId}`;

export function spoolIndex(env: Env): DurableObjectStub<SpoolIndex> {
  return env.SPOOL_INDEX.get(env.SPOOL_INDEX.idFromName("spool"));
}

/** Sends a DSN. The edge's `DSN_EMAIL` binding in production; tests capture what would be sent. */
export interface Mailer {
  send(from: string, to: string, raw: Uint8Array): Promise<void>;
}

/** What the spool consumer needs beyond env, injectable so tests can see DSNs and inject crashes. */
export interface SpoolDeps {
  mailer: Mailer | null;
  now: () => number;
  fetcher?: typeof fetch;
  /** Sends a spooled message on to a verified address (hubs with transport "forward"); null where impossible. */
  forward?: (address: string, delivery: Delivery) => Promise<void>;
  /** Called after a hub confirmed and before the spool copy is deleted (tests crash here). */
  afterAccepted?: (deliveryId: string) => Promise<void>;
  /** Message tracking: one event per round and notification, sent once the batch is done. */
  tracker?: Tracker;
}

export function productionDeps(env: Env): SpoolDeps {
  const binding = (env as unknown as { DSN_EMAIL?: SendEmail }).DSN_EMAIL;
  const mailer: Mailer | null =
    binding === undefined || String(env.DSN_FROM) === ""
      ? null
      : {
          send: async (from, to, raw) => {
            await binding.send(new EmailMessage(from, to, new Response(raw).body!));
          },
        };
  // The email handler forwards with message.forward(); from the spool, the same binding sends a copy.
  const forward =
    binding === undefined
      ? undefined
      : async (address: string, delivery: Delivery) => {
          await binding.send(new EmailMessage(delivery.envelope.from, address, new Response(delivery.raw).body!));
        };
  return { mailer, now: Date.now, forward };
}

/**
 * Puts a delivery no hub took into the spool: bytes to R2, then the key to the queue, then the
 * index. The sender is told "accepted" only when this returns; if the bytes or the queue message
 * cannot be written it throws, and the email handler answers with a temporary failure so the
 * sending server keeps the message. (The index is written last and may fail alone: the consumer
 * adds the item itself when it finds the bytes.)
 */
export async function spoolDelivery(env: Env, delivery: Delivery, outcome: DeliveryOutcome, settings: DeliverySettings, now = Date.now()): Promise<SpoolItem> {
  const key = spoolKey(delivery.edgeId, delivery.deliveryId);
  await env.SPOOL.put(key, encodeDelivery(delivery), {
    httpMetadata: { contentType: "application/vnd.portcullis.delivery" },
    customMetadata: { deliveryId: delivery.deliveryId, receivedAt: delivery.receivedAt },
  });
  const delay = retryDelaySeconds(settings, 1);
  await env.SPOOL_QUEUE.send({ deliveryId: delivery.deliveryId } satisfies SpoolTask, { delaySeconds: delay });
  const item = newItem(delivery, settings, now, outcome.attempts, delay);
  try {
    await spoolIndex(env).add(item);
  } catch (err) {
    edgeLog(env.EDGE_ID, delivery).error("spool_index_unavailable", { error: String(err) });
  }
  return item;
}

function newItem(delivery: Delivery, settings: DeliverySettings, now: number, attempts: DeliveryAttempt[], delaySeconds: number): SpoolItem {
  const last = attempts.at(-1);
  return {
    deliveryId: delivery.deliveryId,
    edgeId: delivery.edgeId,
    state: "queued",
    envelope: delivery.envelope,
    messageId: delivery.messageId,
    subject: delivery.subject,
    size: delivery.raw.byteLength,
    receivedAt: delivery.receivedAt,
    spooledAt: new Date(now).toISOString(),
    expiresAt: new Date(Date.parse(delivery.receivedAt) + settings.expireAfterSeconds * 1000).toISOString(),
    attempts: attempts.length > 0 ? 1 : 0,
    nextAttemptAt: new Date(now + delaySeconds * 1000).toISOString(),
    lastError: last?.error ?? null,
    lastHub: last?.hubId ?? null,
    delayNotifiedAt: null,
    reason: null,
    endedAt: null,
  };
}

async function loadSettings(env: Env): Promise<{ hubs: HubConfig[]; settings: DeliverySettings }> {
  const directory = await openDirectory(env);
  const [hubs, delivery] = await Promise.all([readPolicy(directory, "hubs"), readPolicy(directory, "delivery")]);
  return { hubs: edgeHubs(env)(hubs), settings: deliverySettings(delivery) };
}

/** What became of one queue message. */
export type SpoolResult =
  | { outcome: "delivered"; hubId: string }
  | { outcome: "retry"; delaySeconds: number; error: string }
  | { outcome: "dead"; reason: string }
  | { outcome: "skipped"; reason: string };

/**
 * The queue consumer. Each message names one spooled delivery; the index lets one consumer at a
 * time attempt it. Delivered → the R2 copy is deleted (only now, after a hub confirmed) and the
 * item leaves the index. Failed → retried with exponential backoff, a delay notice to the sender
 * once it has waited long enough. Expired or refused → a non-delivery report and the dead-letter
 * store.
 */
export async function processSpoolBatch(batch: MessageBatch<SpoolTask>, env: Env, deps: SpoolDeps): Promise<SpoolResult[]> {
  const { hubs, settings } = await loadSettings(env);
  const results: SpoolResult[] = [];
  // One at a time: each message may be 25 MiB, and the isolate has 128 MB.
  for (const message of batch.messages) {
    try {
      // processOne fills in the Message-ID once it has read the spooled message, for the log line.
      const ids: LogContext = { deliveryId: message.body?.deliveryId };
      const result = await processOne(env, message.body?.deliveryId, hubs, settings, deps, ids);
      results.push(result);
      if (result.outcome === "retry") message.retry({ delaySeconds: result.delaySeconds });
      else message.ack();
      edgeLog(env.EDGE_ID, ids).info("spool", result);
    } catch (err) {
      // Storage trouble: leave the item as it is and try the message again shortly.
      edgeLog(env.EDGE_ID, { deliveryId: message.body?.deliveryId }).error("spool_error", { error: String(err) });
      results.push({ outcome: "retry", delaySeconds: settings.retryBaseSeconds, error: String(err) });
      message.retry({ delaySeconds: settings.retryBaseSeconds });
    }
  }
  deps.tracker?.flush();
  return results;
}

async function processOne(
  env: Env,
  deliveryId: unknown,
  hubs: HubConfig[],
  settings: DeliverySettings,
  deps: SpoolDeps,
  ids: LogContext = {},
): Promise<SpoolResult> {
  if (typeof deliveryId !== "string") return { outcome: "skipped", reason: "malformed queue message" };
  const index = spoolIndex(env);
  const now = deps.now();
  const key = spoolKey(env.EDGE_ID, deliveryId);
  let item = await index.claim(deliveryId, now);
  if (item === null) {
    const existing = await index.get(deliveryId);
    if (existing !== null) return { outcome: "skipped", reason: `item is ${existing.state} or being attempted elsewhere` };
    // Bytes without an index entry: the index write failed when it was spooled. Adopt it.
    const object = await env.SPOOL.head(key);
    if (object === null) return { outcome: "skipped", reason: "no longer spooled" };
    const delivery = decodeDelivery(new Uint8Array(await (await env.SPOOL.get(key))!.arrayBuffer()));
    await index.add(newItem(delivery, settings, now, [], 0));
    item = await index.claim(deliveryId, now);
    if (item === null) return { outcome: "skipped", reason: "being attempted elsewhere" };
  }
  const object = await env.SPOOL.get(key);
  if (object === null) {
    await index.delivered(deliveryId);
    return { outcome: "skipped", reason: "bytes already gone (delivered before the index was updated)" };
  }
  const delivery = decodeDelivery(new Uint8Array(await object.arrayBuffer()));
  ids.messageId = delivery.messageId;

  if (now >= Date.parse(item.expiresAt)) {
    const reason = `expired after ${Math.round((now - Date.parse(delivery.receivedAt)) / 3_600_000)} h in the spool; last error: ${item.lastError ?? "none"}`;
    await notify(env, deps, delivery, item, "failed", reason);
    await bury(env, delivery, key, reason);
    await index.dead(deliveryId, reason, now);
    deps.tracker?.spool(delivery, "dead", null, null, reason);
    return { outcome: "dead", reason };
  }

  const outcome = await deliverToHubs(env, delivery, { hubs, settings, now: deps.now, fetcher: deps.fetcher, forward: deps.forward, round: item.attempts + 1 });
  if (outcome.delivered) {
    await deps.afterAccepted?.(deliveryId);
    await env.SPOOL.delete(key);
    await index.delivered(deliveryId);
    deps.tracker?.spool(delivery, "delivered", item.attempts + 1, outcome);
    return { outcome: "delivered", hubId: outcome.hubId };
  }
  if (outcome.refused) {
    await notify(env, deps, delivery, item, "failed", outcome.error);
    await bury(env, delivery, key, outcome.error);
    await index.dead(deliveryId, outcome.error, now);
    deps.tracker?.spool(delivery, "dead", item.attempts + 1, outcome);
    return { outcome: "dead", reason: outcome.error };
  }

  const attempts = item.attempts + 1;
  const untilExpiry = Math.max(1, Math.ceil((Date.parse(item.expiresAt) - now) / 1000));
  const delaySeconds = Math.min(retryDelaySeconds(settings, attempts), untilExpiry);
  let delayNotifiedAt: number | undefined;
  if (item.delayNotifiedAt === null && now - Date.parse(delivery.receivedAt) >= settings.delayNoticeAfterSeconds * 1000) {
    await notify(env, deps, delivery, item, "delayed", outcome.error);
    delayNotifiedAt = now;
  }
  await index.failed(deliveryId, {
    error: outcome.error,
    hubId: outcome.attempts.at(-1)?.hubId ?? null,
    nextAttemptAt: now + delaySeconds * 1000,
    delayNotifiedAt,
  });
  deps.tracker?.spool(delivery, "retry", attempts, outcome);
  return { outcome: "retry", delaySeconds, error: outcome.error };
}

/** Moves the bytes to the dead-letter prefix (copy first, then delete: never neither). */
async function bury(env: Env, delivery: Delivery, key: string, reason: string): Promise<void> {
  await env.SPOOL.put(deadKey(delivery.edgeId, delivery.deliveryId), encodeDelivery(delivery), {
    httpMetadata: { contentType: "application/vnd.portcullis.delivery" },
    customMetadata: { deliveryId: delivery.deliveryId, receivedAt: delivery.receivedAt, reason: reason.slice(0, 500) },
  });
  await env.SPOOL.delete(key);
}

/** The original header block, for the DSN's text/rfc822-headers part and the loop checks. */
function headerBlock(raw: Uint8Array): string {
  const head = new TextDecoder("utf-8").decode(raw.subarray(0, Math.min(raw.byteLength, 256 * 1024)));
  const end = head.search(/\r?\n\r?\n/);
  return end === -1 ? head : head.slice(0, end);
}

/**
 * Tells the envelope sender (RFC 3464), where that is allowed: never the null sender, never an
 * automatic message, never a DSN (no loops). A DSN that cannot be sent is logged; it never stops
 * the spool.
 */
async function notify(env: Env, deps: SpoolDeps, delivery: Delivery, item: SpoolItem, kind: "delayed" | "failed", diagnostic: string): Promise<void> {
  const headers = headerBlock(delivery.raw);
  const allowed = mayNotifySender(delivery.envelope.from, headers);
  if (!allowed.ok) {
    edgeLog(env.EDGE_ID, delivery).info("dsn_suppressed", { kind, reason: allowed.reason });
    deps.tracker?.dsn(delivery, kind, "suppressed", allowed.reason);
    return;
  }
  const dsnFrom = String(env.DSN_FROM);
  if (deps.mailer === null || dsnFrom === "") {
    edgeLog(env.EDGE_ID, delivery).warn("dsn_not_sent", { kind, reason: "no DSN_EMAIL binding or DSN_FROM address" });
    deps.tracker?.dsn(delivery, kind, "not_sent", "no DSN_EMAIL binding or DSN_FROM address");
    return;
  }
  const now = new Date(deps.now());
  const domain = dsnFrom.split("@")[1] ?? "localhost";
  try {
    const dsn = buildDsn({
      kind,
      reportingMta: domain,
      from: dsnFrom,
      envelopeFrom: delivery.envelope.from,
      recipients: delivery.envelope.to,
      originalHeaders: headers,
      originalMessageId: delivery.messageId,
      arrivalDate: new Date(delivery.receivedAt),
      lastAttemptDate: now,
      willRetryUntil: kind === "delayed" ? new Date(item.expiresAt) : undefined,
      // The sender sees what happened, not our internal hub names and errors (those stay in the spool index and logs).
      diagnostic: senderDiagnostic(kind, diagnostic),
      envelopeId: delivery.deliveryId,
      now,
      messageIdDomain: domain,
    });
    await deps.mailer.send(dsnFrom, delivery.envelope.from, dsn.raw);
    edgeLog(env.EDGE_ID, delivery).info("dsn_sent", { kind, dsnMessageId: dsn.messageId });
    deps.tracker?.dsn(delivery, kind, "sent", `Message-ID ${dsn.messageId}`);
  } catch (err) {
    edgeLog(env.EDGE_ID, delivery).error("dsn_failed", { kind, error: String(err) });
    deps.tracker?.dsn(delivery, kind, "error", String(err));
  }
}

function senderDiagnostic(kind: "delayed" | "failed", internal: string): string {
  if (internal.startsWith("refused") || internal.includes("refused the hand-over")) return "the message could not be handed to the recipient's mail system";
  return kind === "delayed"
    ? "the recipient's mail system is temporarily unavailable; delivery is being retried"
    : "the recipient's mail system was unavailable until the message expired";
}

/** The queue viewer's actions, as the edge's RPC entrypoint exposes them to hubs. */
export async function spoolAction(env: Env, deliveryId: string, action: "retry" | "suspend" | "resume" | "delete", reason = ""): Promise<SpoolActionResult> {
  const index = spoolIndex(env);
  // An operator's action must work even when the edge has no readable directory: defaults then.
  const settings = await loadSettings(env)
    .then((s) => s.settings)
    .catch(() => deliverySettings(null));
  switch (action) {
    case "retry":
    case "resume": {
      const result = action === "retry" ? await index.retry(deliveryId, settings.expireAfterSeconds * 1000) : await index.resume(deliveryId);
      if (result.ok) {
        // A dead item's bytes come back from the dead-letter prefix first.
        const dead = await env.SPOOL.get(deadKey(env.EDGE_ID, deliveryId));
        if (dead !== null) {
          await env.SPOOL.put(spoolKey(env.EDGE_ID, deliveryId), await dead.arrayBuffer(), { customMetadata: dead.customMetadata });
          await env.SPOOL.delete(deadKey(env.EDGE_ID, deliveryId));
        }
        await env.SPOOL_QUEUE.send({ deliveryId } satisfies SpoolTask);
      }
      return result;
    }
    case "suspend":
      return index.suspend(deliveryId);
    case "delete": {
      const result = await index.remove(deliveryId, reason);
      if (result.ok) {
        await env.SPOOL.delete([spoolKey(env.EDGE_ID, deliveryId), deadKey(env.EDGE_ID, deliveryId)]);
        edgeLog(env.EDGE_ID, { deliveryId }).info("spool_deleted", { reason });
      }
      return result;
    }
  }
}
