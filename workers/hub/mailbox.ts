import { DELIVERY_ID, type Delivery, type IngestResult } from "../../shared/delivery.ts";
import { sha256Hex } from "../../shared/directory/hash.ts";
import { MAX_MESSAGE_BYTES, MAX_RECIPIENTS } from "../../shared/limits.ts";
import { insertMessageStatement, messageIdForDelivery } from "./db/messages.ts";
import { insertOnwardStatement, type NewOnward } from "./db/onward.ts";
import { enqueueOnward } from "./onward/queue.ts";
import { onwardStepsFor } from "./onward/steps.ts";
import { holdStatement, isStandby } from "./backup/standby.ts";

/** A hand-over the hub refuses outright (not transient: retrying the same payload cannot help). */
export class InvalidDeliveryError extends Error {
  override name = "InvalidDeliveryError";
}

function validate(d: Delivery): void {
  if (typeof d !== "object" || d === null) throw new InvalidDeliveryError("delivery must be an object");
  if (typeof d.deliveryId !== "string" || !DELIVERY_ID.test(d.deliveryId)) throw new InvalidDeliveryError("deliveryId must be a UUID");
  if (!(d.raw instanceof Uint8Array)) throw new InvalidDeliveryError("raw must be bytes");
  if (d.raw.byteLength > MAX_MESSAGE_BYTES) throw new InvalidDeliveryError(`raw exceeds ${MAX_MESSAGE_BYTES} bytes`);
  if (typeof d.edgeId !== "string" || d.edgeId.length === 0) throw new InvalidDeliveryError("edgeId must be a string");
  if (typeof d.envelope?.from !== "string" || !Array.isArray(d.envelope.to) || d.envelope.to.length === 0) {
    throw new InvalidDeliveryError("envelope needs from and at least one recipient");
  }
  if (d.envelope.to.length > MAX_RECIPIENTS || !d.envelope.to.every((to) => typeof to === "string")) {
    throw new InvalidDeliveryError(`envelope.to must be at most ${MAX_RECIPIENTS} addresses`);
  }
  if (!(d.subject === null || typeof d.subject === "string") || !(d.messageId === null || typeof d.messageId === "string")) {
    throw new InvalidDeliveryError("subject and messageId must be strings or null");
  }
  if (typeof d.receivedAt !== "string") throw new InvalidDeliveryError("receivedAt must be an ISO 8601 time");
  if (Number.isNaN(Date.parse(d.receivedAt))) throw new InvalidDeliveryError("receivedAt must be an ISO 8601 time");
  if (d.verdict?.action !== "accept" && d.verdict?.action !== "quarantine") throw new InvalidDeliveryError("verdict.action must be accept or quarantine");
  if (typeof d.verdict.scl !== "number" || !Array.isArray(d.verdict.agents)) throw new InvalidDeliveryError("verdict needs scl and agents");
}

/**
 * The onward steps of an accepted delivery; quarantined mail has none (it stays in the quarantine
 * until an operator acts), and neither has mail a standby holds for its primary (the primary
 * routes it once handed back).
 */
async function onwardSteps(env: Env, d: Delivery, now: number): Promise<NewOnward[]> {
  return d.verdict.action === "accept" && !isStandby(env) ? onwardStepsFor(env.DB, d.envelope.to, now) : [];
}

/**
 * Stores a delivery in the mailbox: raw bytes to R2, then an index row in D1 keyed by the
 * delivery id, together with its onward steps (webhook and forward routes) in the same batch.
 * Idempotent: a delivery id already stored is not stored again, and gets no second onward step.
 * The R2 write comes first, so a row never points at missing bytes; a crash between the two
 * leaves only an unreferenced object, and the edge's retry (same id) completes the row. The
 * onward steps written are then queued; if queueing fails, the cron finds them in D1.
 */
export async function storeDelivery(env: Env, d: Delivery): Promise<IngestResult> {
  try {
    validate(d);
  } catch (err) {
    if (err instanceof InvalidDeliveryError) return { status: "refused", error: err.message };
    throw err;
  }
  const existing = await messageIdForDelivery(env.DB, d.deliveryId);
  if (existing !== null) return { status: "duplicate", id: existing };

  const sha256 = await sha256Hex(d.raw);
  // Quarantined mail is kept apart, so a mailbox export or onward route never picks it up by mistake.
  const folder = d.verdict.action === "quarantine" ? "quarantine" : "messages";
  const r2Key = `${folder}/${d.receivedAt.slice(0, 10)}/${d.deliveryId}.eml`;
  await env.MAILBOX.put(r2Key, d.raw, {
    sha256,
    httpMetadata: { contentType: "message/rfc822" },
    customMetadata: { deliveryId: d.deliveryId, edgeId: d.edgeId },
  });
  const onward = await onwardSteps(env, d, Date.now());
  const insert = insertMessageStatement(env.DB, {
    deliveryId: d.deliveryId,
    edgeId: d.edgeId,
    from: d.envelope.from,
    to: d.envelope.to,
    subject: d.subject,
    messageId: d.messageId,
    size: d.raw.byteLength,
    sha256,
    r2Key,
    action: d.verdict.action,
    scl: d.verdict.scl,
    agents: d.verdict.agents,
    tags: d.verdict.tags ?? {},
    receivedAt: d.receivedAt,
  });
  // On a standby the row is marked held in the same batch, so no stored message misses its hand-back.
  const hold = isStandby(env) ? [holdStatement(env.DB, d.deliveryId)] : [];
  const [message, ...steps] = await env.DB.batch<{ id: number }>([insert, ...hold, ...onward.map((o) => insertOnwardStatement(env.DB, d.deliveryId, o))]);
  steps.splice(0, hold.length);
  const id = message?.results[0]?.id ?? null;
  await enqueueOnward(
    env,
    steps.flatMap((s) => s.results.map((r) => r.id)),
  );
  if (id !== null) return { status: "stored", id };
  // Another attempt with the same delivery id won the race: same bytes, same key — nothing lost.
  const winner = await messageIdForDelivery(env.DB, d.deliveryId);
  if (winner === null) throw new Error(`delivery ${d.deliveryId} neither inserted nor found`);
  return { status: "duplicate", id: winner };
}
