import type { HubPing } from "../../shared/delivery.ts";

/**
 * The hub's answer to a health probe: it answers only when its database does, since nothing the
 * hub does (ingest, the admin API) works without it. Throws otherwise.
 */
export async function hubPing(env: Env): Promise<HubPing> {
  await env.DB.prepare("SELECT 1").first();
  return { status: "ok", hubId: env.HUB_ID };
}
