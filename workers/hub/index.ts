import { WorkerEntrypoint } from "cloudflare:workers";
import type { Delivery, HubIngestApi, IngestResult } from "../../shared/delivery.ts";
import { app } from "./app.ts";
import { storeDelivery } from "./mailbox.ts";

/**
 * What edges call over the service binding. Every public method here is callable over RPC, so
 * this class stays a thin shell over the mailbox module.
 */
export class HubIngest extends WorkerEntrypoint<Env> implements HubIngestApi {
  async ingest(delivery: Delivery): Promise<IngestResult> {
    return storeDelivery(this.env, delivery);
  }
}

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
