import { WorkerEntrypoint } from "cloudflare:workers";
import type { Delivery, HubIngestApi, HubPing, IngestResult } from "../../shared/delivery.ts";
import { hubLog } from "../../shared/log.ts";
import { app } from "./app.ts";
import { pruneNonces } from "./db/nonces.ts";
import { hubPing } from "./health.ts";
import { storeDelivery } from "./mailbox.ts";
import { consumeOnward, type OnwardTask, sweepOnward } from "./onward/queue.ts";
import { primaryCron, standbyCron } from "./backup/cron.ts";
import { isStandby } from "./backup/standby.ts";
import { consumeTracking } from "./tracking/ingest.ts";
import { TRACKING_QUEUE } from "./tracking/limits.ts";
import { pruneTracking } from "./tracking/retention.ts";

export { SyncScheduler } from "./sync/scheduler.do.ts";

/**
 * What edges call over the service binding. Every public method here is callable over RPC, so
 * this class stays a thin shell over the mailbox module.
 */
export class HubIngest extends WorkerEntrypoint<Env> implements HubIngestApi {
  async ingest(delivery: Delivery): Promise<IngestResult> {
    return storeDelivery(this.env, delivery);
  }

  /** The edges' active health probe: answers only when the database does, since ingest needs it. */
  async ping(): Promise<HubPing> {
    return hubPing(this.env);
  }
}

export default {
  fetch: app.fetch,

  /** Onward routing: one attempt per queued row (see onward/queue.ts); tracking events from the edges (tracking/ingest.ts). */
  async queue(batch, env) {
    if (batch.queue === TRACKING_QUEUE) {
      await consumeTracking(batch as MessageBatch<unknown>, env);
      return;
    }
    await consumeOnward(batch, env);
  },

  /**
   * The every-minute safety net: bring every edge to the current directory (a standby: follow the
   * primary, see backup/standby.ts), export the directory when it changed, re-queue onward rows
   * whose queue message was lost and fail expired ones, forget nonces that can no longer be
   * replayed, and delete tracking events past their retention. Each runs on its own: one failing
   * does not stop the others.
   */
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(isStandby(env) ? standbyCron(env) : primaryCron(env));
    ctx.waitUntil(sweepOnward(env).then((r) => (r.expired + r.queued + r.attempted > 0 ? hubLog(env.HUB_ID).info("onward_sweep", { ...r }) : undefined)));
    ctx.waitUntil(pruneNonces(env.DB, new Date().toISOString()));
    ctx.waitUntil(pruneTracking(env).then((n) => (n > 0 ? hubLog(env.HUB_ID).info("tracking_pruned", { events: n }) : undefined)));
  },
} satisfies ExportedHandler<Env, OnwardTask>;
