import type { HubOutcome } from "../../shared/delivery/health.ts";
import { deliverySettings } from "../../shared/delivery/settings.ts";
import { edgeLog } from "../../shared/log.ts";
import { readPolicy } from "../../shared/policy.ts";
import { withTimeout } from "../../shared/timeout.ts";
import { openDirectory } from "./directory.ts";
import { edgeHubs, healthStub, hubClient } from "./hubs.ts";

/** How long an active probe waits for a hub's answer; a hub slower than this is as good as down for mail. */
export const HUB_PROBE_TIMEOUT_MS = 5_000;

/**
 * The active health check (the cron): pings every hub of the policy (RPC `ping()` over a service
 * binding, signed `GET /_portcullis/ping` over HTTPS) and records the results with the breakers. A
 * successful probe closes an open breaker at once, so a hub that came back gets mail again
 * without waiting for a message to risk on it. Forward targets are not probed (nothing to ask).
 */
export async function probeHubs(env: Env, fetcher?: typeof fetch): Promise<HubOutcome[]> {
  const directory = await openDirectory(env);
  const [hubs, settings] = await Promise.all([readPolicy(directory, "hubs").then(edgeHubs(env)), readPolicy(directory, "delivery").then(deliverySettings)]);
  const outcomes = await Promise.all(
    hubs
      .filter((hub) => hub.transport !== "forward")
      .map(async (hub): Promise<HubOutcome> => {
        const started = Date.now();
        try {
          await withTimeout(hubClient(env, hub, fetcher).ping(), HUB_PROBE_TIMEOUT_MS, `hub ${hub.id} did not answer the probe`);
          return { hubId: hub.id, ok: true, at: Date.now(), ms: Date.now() - started, kind: "probe" };
        } catch (err) {
          return {
            hubId: hub.id,
            ok: false,
            at: Date.now(),
            ms: Date.now() - started,
            kind: "probe",
            error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
          };
        }
      }),
  );
  await healthStub(env).record(outcomes, settings.breakerFailures, settings.breakerOpenSeconds);
  edgeLog(env.EDGE_ID).info("hub_probe", { results: outcomes.map((o) => ({ hub: o.hubId, ok: o.ok, ms: o.ms, error: o.error })) });
  return outcomes;
}
