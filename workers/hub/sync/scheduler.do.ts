import { DurableObject } from "cloudflare:workers";
import { followPrimary } from "../backup/standby.ts";
import { RestoreError, type RestoreResult, restoreExport } from "../backup/restore.ts";
import { syncAllEdges } from "./sync-edges.ts";

/**
 * How long after the last admin change a sync starts. Short enough that a change is enforced at
 * the edges within seconds; long enough that an import of many rows syncs once.
 */
export const SYNC_DEBOUNCE_MS = 300;

/** Runs syncs one at a time for this hub: after admin changes (debounced) and on the cron. */
export class SyncScheduler extends DurableObject<Env> {
  /** Schedules a sync SYNC_DEBOUNCE_MS from now, replacing a later or earlier pending one. */
  async schedule(): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now() + SYNC_DEBOUNCE_MS);
  }

  override async alarm(): Promise<void> {
    await this.runNow();
  }

  #chain: Promise<unknown> = Promise.resolve();

  /**
   * Syncs now (cron, tests, `POST /api/v1/sync`). Rounds never overlap: the object's input gate
   * opens while a round awaits D1 or an edge, so each call queues behind the one before it.
   */
  async runNow(): ReturnType<typeof syncAllEdges> {
    return this.#queue(() => syncAllEdges(this.env));
  }

  /**
   * A standby applies its primary's newest export here, in the same queue as sync rounds: a
   * round never builds a snapshot from a directory half-way through being replaced.
   */
  async followPrimary(primaryHubId: string): Promise<RestoreResult | null> {
    return this.#queue(() => followPrimary(this.env, primaryHubId));
  }

  /**
   * An administrator's restore (`POST /api/v1/backups/restore`), in the same queue as sync rounds
   * for the same reason. A refusal comes back as a value: a custom error class does not survive
   * the call from the Worker into this object.
   */
  async restore(
    key: string,
    force: boolean,
  ): Promise<{ ok: true; result: RestoreResult } | { ok: false; status: RestoreError["status"]; code: string; message: string }> {
    return this.#queue(async () => {
      try {
        return { ok: true as const, result: await restoreExport(this.env, key, { force }) };
      } catch (err) {
        if (err instanceof RestoreError) return { ok: false as const, status: err.status, code: err.code, message: err.message };
        throw err;
      }
    });
  }

  #queue<T>(work: () => Promise<T>): Promise<T> {
    const round = this.#chain.then(work);
    this.#chain = round.catch(() => undefined);
    return round;
  }
}
