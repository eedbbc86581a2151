import { Hono } from "hono";
import { requireToken } from "./api/auth.ts";
import { domains } from "./api/domains.ts";
import { ApiError, onError } from "./api/errors.ts";
import { messages } from "./api/messages.ts";
import { onward } from "./api/onward.ts";
import { recipients } from "./api/recipients.ts";
import { hubs, queues } from "./api/delivery.ts";
import { edges } from "./api/edges.ts";
import { policies } from "./api/policies.ts";
import { dashboard } from "./dashboard/index.ts";
import { hubPing } from "./health.ts";
import { signedRoutes } from "./ingest-http.ts";
import { scheduler } from "./sync/trigger.ts";

export type HubEnv = { Bindings: Env };

/**
 * The hub's HTTP face: admin API under /api/v1 (bearer token); delivery from edges under
 * /_portcullis (signed, no token); health without either.
 */
export const app = new Hono<HubEnv>();

app.onError(onError);
app.notFound((c) => c.json({ error: { code: "not_found", message: `No route for ${c.req.method} ${new URL(c.req.url).pathname}` } }, 404));

app.route("/", dashboard);
app.get("/", (c) => c.json({ service: "portcullis-hub", api: "/api/v1", health: "/api/v1/health" }));

app.get("/api/v1/health", (c) => c.json({ status: "ok", service: "portcullis-hub" }));

/** GET /healthz — for load balancers and uptime checks: 200 while the database answers, 503 otherwise. */
app.get("/healthz", async (c) => {
  try {
    const { hubId } = await hubPing(c.env);
    return c.json({ status: "ok", service: "portcullis-hub", hubId });
  } catch (err) {
    console.error(JSON.stringify({ event: "health_failed", error: String(err) }));
    return c.json({ status: "unavailable", service: "portcullis-hub", hubId: c.env.HUB_ID }, 503);
  }
});

app.route("/", signedRoutes);

// Everything else under /api/v1 needs the admin token.
app.use("/api/v1/*", requireToken);

app.route("/api/v1/messages", messages);
app.route("/api/v1/onward", onward);
app.route("/api/v1/domains", domains);
app.route("/api/v1/recipients", recipients);

app.route("/api/v1/edges", edges);
app.route("/api/v1/policies", policies);
app.route("/api/v1/hubs", hubs);
app.route("/api/v1/queues", queues);

/** POST /api/v1/sync — an EdgeSync round now: build the snapshot if D1 changed, push it to every edge. */
app.post("/api/v1/sync", async (c) => {
  try {
    return c.json(await scheduler(c.env).runNow());
  } catch (err) {
    console.error(JSON.stringify({ event: "sync_failed", error: String(err) }));
    throw new ApiError(500, "sync_failed", `The sync round failed: ${err instanceof Error ? err.message : String(err)}`);
  }
});
