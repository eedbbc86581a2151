import type { Delivery, HubIngestApi, IngestResult } from "../../shared/delivery.ts";
import { HUB_HANDOFF_TIMEOUT_MS } from "../../shared/limits.ts";
import { withTimeout } from "../../shared/timeout.ts";

/**
 * Hands an accepted message to the hub over the service binding. Throws when the hub cannot be
 * reached or does not answer in time; the caller turns that into a temporary SMTP failure so the
 * sender retries — a hub outage never becomes a bounce or a silent drop.
 */
export async function handOff(env: Env, delivery: Delivery): Promise<IngestResult> {
  return withTimeout(hub(env).ingest(delivery), HUB_HANDOFF_TIMEOUT_MS, "hub did not take the message");
}

/** The HUB binding speaks the shared hand-over contract (typed here, since each worker's Env is generated alone). */
function hub(env: Env): HubIngestApi {
  return env.HUB as unknown as HubIngestApi;
}
