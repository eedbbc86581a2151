import { dueOnward, expireOnward } from "../db/onward.ts";
import { type AttemptOptions, attemptOnward } from "./deliver.ts";
import { ONWARD_SWEEP_BATCH, ONWARD_SWEEP_GRACE_SECONDS, QUEUE_MAX_DELAY_SECONDS } from "./limits.ts";
import { hubLog } from "../../../shared/log.ts";

/** A message on the ONWARD queue: which onward row to attempt. The row in D1 is the whole truth. */
export interface OnwardTask {
  onwardId: number;
}

/**
 * Queues onward rows for an attempt, optionally delayed. Returns false, and logs, when the queue
 * refuses: the rows stay pending in D1 and the cron sweeper picks them up.
 */
export async function enqueueOnward(env: Env, ids: number[], delaySeconds = 0): Promise<boolean> {
  if (ids.length === 0) return true;
  const delay = Math.min(QUEUE_MAX_DELAY_SECONDS, Math.max(0, Math.ceil(delaySeconds)));
  try {
    await env.ONWARD.sendBatch(ids.map((onwardId) => ({ body: { onwardId } satisfies OnwardTask, delaySeconds: delay })));
    return true;
  } catch (err) {
    hubLog(env.HUB_ID).error("onward_enqueue_failed", { rows: ids.length, error: String(err) });
    return false;
  }
}

/**
 * The ONWARD queue consumer: one attempt per message. A failed attempt that will be retried
 * re-queues its row, delayed until it is due; the message itself is always acknowledged, since
 * the attempt count and backoff live in D1, not in the queue's retries.
 */
export async function consumeOnward(batch: MessageBatch<OnwardTask>, env: Env, options: AttemptOptions = {}): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      const id = message.body?.onwardId;
      if (!Number.isSafeInteger(id)) {
        hubLog(env.HUB_ID).error("onward_bad_task", { body: String(message.body).slice(0, 100) });
        message.ack();
        return;
      }
      try {
        const outcome = await attemptOnward(env, id, options);
        if (outcome.state === "pending") await enqueueOnward(env, [id], (outcome.nextAttemptAt - (options.now ?? Date.now())) / 1000);
        message.ack();
      } catch (err) {
        // D1 or R2 failed before the outcome was recorded: the queue's own retry (or the sweeper) tries again.
        hubLog(env.HUB_ID).error("onward_attempt_error", { onwardId: id, error: String(err) });
        message.retry();
      }
    }),
  );
}

/**
 * The cron's part in onward routing: fail rows past their expiry, and re-queue pending rows well
 * overdue — whose queue message was lost to a crash between storing and queueing, or to a queue
 * outage. When the queue refuses, the rows are attempted right here.
 */
export async function sweepOnward(env: Env, options: AttemptOptions = {}): Promise<{ expired: number; queued: number; attempted: number }> {
  const now = options.now ?? Date.now();
  const expired = await expireOnward(env.DB, new Date(now).toISOString());
  const due = await dueOnward(env.DB, new Date(now - ONWARD_SWEEP_GRACE_SECONDS * 1000).toISOString(), ONWARD_SWEEP_BATCH);
  if (await enqueueOnward(env, due)) return { expired, queued: due.length, attempted: 0 };
  await Promise.all(
    due.map((id) =>
      attemptOnward(env, id, options).catch((err: unknown) => hubLog(env.HUB_ID).error("onward_attempt_error", { onwardId: id, error: String(err) })),
    ),
  );
  return { expired, queued: 0, attempted: due.length };
}
