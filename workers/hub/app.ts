import { Hono } from "hono";
import { requireToken } from "./api/auth.ts";
import { domains } from "./api/domains.ts";
import { ApiError, onError } from "./api/errors.ts";
import { messages } from "./api/messages.ts";
import { recipients } from "./api/recipients.ts";
import { edges } from "./api/edges.ts";
import { policies } from "./api/policies.ts";
import { scheduler } from "./sync/trigger.ts";

export type HubEnv = { Bindings: Env };

/** The hub's HTTP face: admin API under /api/v1 (bearer token), health without. */
export const app = new Hono<HubEnv>();

app.onError(onError);
app.notFound((c) => c.json({ error: { code: "not_found", message: `No route for ${c.req.method} ${new URL(c.req.url).pathname}` } }, 404));

app.get("/", (c) => c.json({ service: "portcullis-hub", api: "/api/v1", health: "/api/v1/health" }));

app.get("/api/v1/health", (c) => c.json({ status: "ok", service: "portcullis-hub" }));

// Everything else under /api/v1 needs the admin token.
app.use("/api/v1/*", requireToken);

app.route("/api/v1/messages", messages);
app.route("/api/v1/domains", domains);
app.route("/api/v1/recipients", recipients);

app.route("/api/v1/edges", edges);
app.route("/api/v1/policies", policies);

/** POST /api/v1/sync — an EdgeSync round now: build the snapshot if D1 changed, push it to every edge. */
app.post("/api/v1/sync", async (c) => {
  try {
    return c.json(await scheduler(c.env).runNow());
  } catch (err) {
    console.error(JSON.stringify({ event: "sync_failed", error: String(err) }));
    throw new ApiError(500, "sync_failed", `The sync round failed: ${err instanceof Error ? err.message : String(err)}`);
  }
});
