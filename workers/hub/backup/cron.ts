import { scheduler } from "../sync/trigger.ts";
import { createExport } from "./export.ts";
import { releaseHeld, standbyRound } from "./standby.ts";
import { hubLog } from "../../../shared/log.ts";

function cronLog(env: Env): { log: (event: string, fields: Record<string, unknown>) => void; logError: (event: string, err: unknown) => void } {
  const logger = hubLog(env.HUB_ID);
  return {
    log: (event, fields) => logger.info(event, fields),
    logError: (event, err) => logger.error(event, { error: err instanceof Error ? err.message : String(err) }),
  };
}

/**
 * A primary's cron: the EdgeSync round; an export of the directory when it changed since the last
 * (then the retention); and, on a promoted standby, releasing the mail it held to onward routing.
 * Each runs on its own: one failing does not stop the others.
 */
export async function primaryCron(env: Env): Promise<void> {
  const { log, logError } = cronLog(env);
  await Promise.all([
    scheduler(env)
      .runNow()
      .catch((err: unknown) => logError("sync_failed", err)),
    createExport(env).then(
      (r) => (r.written ? log("directory_exported", { key: r.key, root: r.root, counts: r.counts }) : undefined),
      (err: unknown) => logError("directory_export_failed", err),
    ),
    releaseHeld(env).then(
      (n) => (n > 0 ? log("held_released", { messages: n }) : undefined),
      (err: unknown) => logError("held_release_failed", err),
    ),
  ]);
}

/** A standby's cron: one standby round (follow the primary and hand mail back, or sync the edges while it is down). */
export async function standbyCron(env: Env): Promise<void> {
  const { log, logError } = cronLog(env);
  try {
    const r = await standbyRound(env);
    log("standby_round", {
      primary: r.primary.up ? "up" : "down",
      restored: r.restored?.key ?? null,
      handBack: r.handBack,
      sync: r.sync?.edges ?? null,
    });
  } catch (err) {
    logError("standby_round_failed", err);
  }
}
