import { tagsFor } from "../../../shared/tags.ts";
import { enqueueOnward } from "../onward/queue.ts";
import { onwardStepsFor } from "../onward/steps.ts";
import { QuarantineError } from "./errors.ts";
import { getStoredMessage, markDeleted, releasedOnwardStatement, releaseStatement, type Stamp, type StoredMessage } from "./store.ts";
import { hubLog } from "../../../shared/log.ts";

/** The message, if it is in the quarantine now; otherwise a clear error saying where it went. */
export async function quarantined(db: D1Database, id: number): Promise<StoredMessage> {
  const message = await getStoredMessage(db, id);
  if (message === null) throw new QuarantineError(404, "not_found", "No such message.");
  if (message.action === "quarantine") return message;
  throw notInQuarantine(message);
}

function notInQuarantine(m: StoredMessage): QuarantineError {
  if (m.releasedAt !== null) {
    return new QuarantineError(409, "already_released", `Message ${m.id} was already released from the quarantine at ${m.releasedAt} by ${m.releasedBy}.`);
  }
  if (m.deletedAt !== null) return new QuarantineError(409, "deleted", `Message ${m.id} was deleted from the quarantine at ${m.deletedAt} by ${m.deletedBy}.`);
  return new QuarantineError(409, "not_quarantined", `Message ${m.id} was delivered, not quarantined.`);
}

/** Where a released message's bytes go: the same key under messages/ instead of quarantine/. */
export function releasedKey(quarantineKey: string): string {
  return quarantineKey.startsWith("quarantine/") ? `messages/${quarantineKey.slice("quarantine/".length)}` : quarantineKey;
}

/** What a release did. */
export interface ReleaseResult {
  id: number;
  releasedAt: string;
  releasedBy: string;
  /** Ids of the onward steps written (webhook and forward routes of the recipients' domains). */
  onward: number[];
}

/**
 * Releases a quarantined message into the mailbox and routes it on like accepted mail: copies its
 * bytes from quarantine/… to messages/…, then in one D1 batch marks the row accepted (with the
 * release stamp and tags of delivered mail) and writes its onward steps, queues them, and only
 * then deletes the quarantine copy. A crash before the batch leaves the message in quarantine (a
 * retry copies again, to the same key); a crash after it leaves a stray quarantine copy at worst.
 * A second release — or one that loses a race with another release or a delete — is a 409.
 */
export async function releaseMessage(env: Env, id: number, by: string, now = Date.now()): Promise<ReleaseResult> {
  const message = await quarantined(env.DB, id);
  const object = await env.MAILBOX.get(message.r2Key);
  if (object === null) throw new QuarantineError(409, "bytes_missing", `Message ${id}'s stored bytes are missing; it cannot be released.`);
  const target = releasedKey(message.r2Key);
  const bytes = new Uint8Array(await object.arrayBuffer());
  await env.MAILBOX.put(target, bytes, {
    sha256: object.checksums.sha256,
    httpMetadata: { contentType: "message/rfc822" },
    customMetadata: { ...object.customMetadata, releasedBy: by },
  });

  const stamp: Stamp = { at: new Date(now).toISOString(), by };
  // Delivered copies carry the tags of delivered mail; the SCL stays what the edge measured.
  const tags = { ...tagsFor("accept", message.scl, false), "X-Portcullis-Released": stamp.at };
  const steps = await onwardStepsFor(env.DB, message.to, now);
  const [released, ...written] = await env.DB.batch<{ id: number }>([
    releaseStatement(env.DB, id, target, tags, stamp),
    ...steps.map((s) => releasedOnwardStatement(env.DB, id, stamp, s)),
  ]);
  if ((released?.results.length ?? 0) === 0) {
    const current = await getStoredMessage(env.DB, id);
    // Deleted meanwhile: the copy just made must not outlive it. Released by another request:
    // that release owns the same key, so it stays.
    if (current === null || current.action === "deleted") await env.MAILBOX.delete(target);
    throw current === null ? new QuarantineError(404, "not_found", "No such message.") : notInQuarantine(current);
  }
  const onward = written.flatMap((w) => w.results.map((r) => r.id));
  await enqueueOnward(env, onward);
  if (target !== message.r2Key) await env.MAILBOX.delete(message.r2Key);
  hubLog(env.HUB_ID, { messageId: message.messageId, deliveryId: message.deliveryId }).info("quarantine_released", { message: id, onward: onward.length });
  return { id, releasedAt: stamp.at, releasedBy: by, onward };
}

/**
 * Deletes a quarantined message: marks the row deleted (with who and when; the row stays for
 * audit), then deletes its bytes. Marking first means a release racing it cannot win after the
 * bytes are gone. A message already deleted gets its bytes deleted again (a crash may have left
 * them) and a 409.
 */
export async function deleteQuarantined(env: Env, id: number, by: string, now = Date.now()): Promise<Stamp> {
  const message = await getStoredMessage(env.DB, id);
  if (message === null) throw new QuarantineError(404, "not_found", "No such message.");
  const stamp: Stamp = { at: new Date(now).toISOString(), by };
  if (message.action !== "quarantine" || !(await markDeleted(env.DB, id, stamp))) {
    const current = (await getStoredMessage(env.DB, id)) ?? message;
    if (current.action === "deleted") await env.MAILBOX.delete(current.r2Key);
    throw notInQuarantine(current);
  }
  await env.MAILBOX.delete(message.r2Key);
  hubLog(env.HUB_ID, { messageId: message.messageId, deliveryId: message.deliveryId }).info("quarantine_deleted", { message: id });
  return stamp;
}
