import type { SyncScheduler } from "./scheduler.do.ts";
import { hubLog } from "../../../shared/log.ts";

/** The hub's one scheduler object: syncs run one at a time, whoever asks. */
export function scheduler(env: Env): DurableObjectStub<SyncScheduler> {
  return env.SYNC_SCHEDULER.get(env.SYNC_SCHEDULER.idFromName("sync"));
}

/**
 * Asks for a sync soon after an admin change. Debounced: a burst of changes (an import, a script)
 * becomes one sync shortly after the last of them. Never throws — the cron sync a minute later is
 * the safety net — so an admin write never fails because of it.
 *
 * @example
 * requestSync(c.env, c.executionCtx);
 */
export function requestSync(env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }): void {
  ctx.waitUntil(
    scheduler(env)
      .schedule()
      .catch((err: unknown) => hubLog(env.HUB_ID).error("sync_request_failed", { error: String(err) })),
  );
}
