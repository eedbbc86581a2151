import { WorkerEntrypoint } from "cloudflare:workers";
import type { Delivery, HubIngestApi, HubPing, IngestResult } from "../../shared/delivery.ts";
import { app } from "./app.ts";
import { storeDelivery } from "./mailbox.ts";
import { scheduler } from "./sync/trigger.ts";

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
    await this.env.DB.prepare("SELECT 1").first();
    return { status: "ok", hubId: this.env.HUB_ID };
  }
}

export default {
  fetch: app.fetch,

  /** The cron safety net: bring every edge to the current directory, whatever was missed. */
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(scheduler(env).runNow());
  },
} satisfies ExportedHandler<Env>;
