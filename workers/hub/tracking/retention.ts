import { TRACKING_DEFAULT_RETENTION_DAYS, TRACKING_PRUNE_CHUNK, TRACKING_PRUNE_MAX_CHUNKS } from "./limits.ts";
import { hubLog } from "../../../shared/log.ts";

/** TRACKING_RETENTION_DAYS as a positive whole number of days; the default (logged) when it is not one. */
export function retentionDays(env: { TRACKING_RETENTION_DAYS?: string; HUB_ID?: string }): number {
  const raw = env.TRACKING_RETENTION_DAYS;
  if (raw === undefined || raw === "") return TRACKING_DEFAULT_RETENTION_DAYS;
  const days = Number(raw);
  if (Number.isInteger(days) && days >= 1) return days;
  hubLog(env.HUB_ID ?? "").error("tracking_retention_invalid", { value: raw, using: TRACKING_DEFAULT_RETENTION_DAYS });
  return TRACKING_DEFAULT_RETENTION_DAYS;
}

/**
 * Deletes events older than `cutoff` (ISO 8601) with their recipient rows, oldest first, in
 * chunks of TRACKING_PRUNE_CHUNK, at most TRACKING_PRUNE_MAX_CHUNKS per call: one run stays
 * short, and the next minute's run carries on. Each chunk is one D1 batch, so an event and its
 * recipient rows go together. Returns the number of events deleted.
 */
export async function pruneEvents(db: D1Database, cutoff: string, options: { chunk?: number; maxChunks?: number } = {}): Promise<number> {
  const chunk = options.chunk ?? TRACKING_PRUNE_CHUNK;
  const maxChunks = options.maxChunks ?? TRACKING_PRUNE_MAX_CHUNKS;
  // Both statements select the same rows: the first does not change tracking_events, and the order is total.
  const oldest = "SELECT seq FROM tracking_events WHERE at < ? ORDER BY at, seq LIMIT ?";
  let deleted = 0;
  for (let i = 0; i < maxChunks; i++) {
    const [, events] = await db.batch([
      db.prepare(`DELETE FROM tracking_recipients WHERE event_seq IN (${oldest})`).bind(cutoff, chunk),
      db.prepare(`DELETE FROM tracking_events WHERE seq IN (${oldest})`).bind(cutoff, chunk),
    ]);
    const n = events?.meta.changes ?? 0;
    deleted += n;
    if (n < chunk) break;
  }
  return deleted;
}

/** The cron's part: delete what is past the retention. */
export async function pruneTracking(env: Pick<Env, "DB"> & { TRACKING_RETENTION_DAYS?: string; HUB_ID?: string }, now = Date.now()): Promise<number> {
  const cutoff = new Date(now - retentionDays(env) * 86_400_000).toISOString();
  return pruneEvents(env.DB, cutoff);
}
