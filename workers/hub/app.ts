import { OpenAPIHono } from "@hono/zod-openapi";
import { type AuditNote, audit, recordChanges } from "./api/audit.ts";
import { type Principal, requireToken } from "./api/auth.ts";
import { mountBackups } from "./api/backups.ts";
import { hubs, queues } from "./api/delivery.ts";
import { dnsCheck } from "./api/dns.ts";
import { docsPage } from "./api/docs-page.ts";
import { domains } from "./api/domains.ts";
import { edges } from "./api/edges.ts";
import { onError } from "./api/errors.ts";
import { messages } from "./api/messages.ts";
import { metrics } from "./api/metrics.ts";
import { onward } from "./api/onward.ts";
import { policies } from "./api/policies.ts";
import { recipients } from "./api/recipients.ts";
import { sync } from "./api/sync.ts";
import { tokens } from "./api/tokens.ts";
import { requireAccess } from "./auth/access.ts";
import { dashboard } from "./dashboard/index.ts";
import type { Role } from "./auth/roles.ts";
import { hubPing } from "./health.ts";
import { signedRoutes } from "./ingest-http.ts";
import { feedback, messageReports, quarantine } from "./quarantine/api.ts";
import { relayClients } from "./relay/clients.ts";
import { stats, tracking } from "./tracking/api.ts";
import { hubLog } from "../../shared/log.ts";

/** What the middleware in front of the admin API puts on the context. */
export type HubVariables = {
  /** The role of the request's token, once `requireToken` has checked it (what `requireRole` compares). */
  role: Role | undefined;
  /** Who the token is (id and name, never the token), for the audit log. */
  principal: Principal | undefined;
  /** Who Cloudflare Access let in (email or service token), when Access is configured. */
  accessIdentity: string | undefined;
  /** What a handler says it changed, for the audit log (see `noteChange`). */
  auditNote: AuditNote | undefined;
};

export type HubEnv = { Bindings: Env; Variables: HubVariables };

/**
 * The hub's HTTP face: admin API under /api/v1 (bearer token with a role; its OpenAPI document and
 * interactive docs need none); the operator dashboard at the root (its own session login);
 * delivery from edges under /_portcullis (signed, no token); health without either. With
 * Cloudflare Access configured, everything but health and the edges' paths also needs Access's
 * assertion.
 */
export const app = new OpenAPIHono<HubEnv>();

app.onError(onError);
app.notFound((c) => c.json({ error: { code: "not_found", message: `No route for ${c.req.method} ${new URL(c.req.url).pathname}` } }, 404));

/** What Cloudflare Access does not guard: health probes, and the edges' signed requests (machines, with their own authentication). */
const ACCESS_EXEMPT = /^\/(healthz|api\/v1\/health|_portcullis\/.*)$/;

// Cloudflare Access first (a no-op unless ACCESS_TEAM_DOMAIN and ACCESS_AUD are set), in front of
// everything people use: the admin API, its docs and the dashboard (at the root, whatever its paths).
const access = requireAccess();
app.use("*", async (c, next) => (ACCESS_EXEMPT.test(c.req.path) ? next() : access(c, next)));

app.get("/api/v1/health", (c) => c.json({ status: "ok", service: "portcullis-hub" }));

/** GET /healthz — for load balancers and uptime checks: 200 while the database answers, 503 otherwise. */
app.get("/healthz", async (c) => {
  try {
    const { hubId } = await hubPing(c.env);
    return c.json({ status: "ok", service: "portcullis-hub", hubId });
  } catch (err) {
    hubLog(c.env.HUB_ID).error("health_failed", { error: String(err) });
    return c.json({ status: "unavailable", service: "portcullis-hub", hubId: c.env.HUB_ID }, 503);
  }
});

app.route("/", signedRoutes);

// The API's description: public, as it describes shapes and roles, never data (and it is in the
// repository anyway). Trying an operation from the docs page needs a token like any client.
app.get("/api/v1/openapi.json", (c) => c.json(openApiDocument(new URL(c.req.url).origin)));
app.get("/api/v1/docs", (c) => docsPage(c, openApiDocument(new URL(c.req.url).origin)));

// Everything else under /api/v1 needs a token; each route then checks its role. Changes are
// recorded in the audit log once answered.
app.use("/api/v1/*", requireToken);
app.use("/api/v1/*", recordChanges);
mountBackups(app);

// In the order the OpenAPI document and the docs page list them.
app.route("/api/v1/domains", domains);
app.route("/api/v1/domains", dnsCheck);
app.route("/api/v1/recipients", recipients);
app.route("/api/v1/policies", policies);
app.route("/api/v1/edges", edges);
app.route("/api/v1/sync", sync);
app.route("/api/v1/messages", messages);
app.route("/api/v1/onward", onward);
app.route("/api/v1/hubs", hubs);
app.route("/api/v1/queues", queues);
app.route("/api/v1/messages", messageReports);
app.route("/api/v1/quarantine", quarantine);
app.route("/api/v1/feedback", feedback);
app.route("/api/v1/tracking", tracking);
app.route("/api/v1/stats", stats);
app.route("/api/v1/relay-clients", relayClients);
app.route("/api/v1/tokens", tokens);
app.route("/api/v1/audit", audit);

app.route("/metrics", metrics);

// The operator dashboard owns the root (its pages check their own session cookie).
app.route("/", dashboard);

app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
  type: "http",
  scheme: "bearer",
  description:
    "An API token (`pc_…`, from POST /api/v1/tokens) or the ADMIN_TOKEN secret (the bootstrap admin token). Each operation names the role it needs in `x-portcullis-role`: read-only < operator < admin.",
});

type OpenApiDocument = ReturnType<typeof app.getOpenAPI31Document>;
let generated: OpenApiDocument | undefined;

/** The OpenAPI 3.1 document of every admin route, generated once per isolate from the route definitions. */
export function openApiDocument(origin?: string): OpenApiDocument {
  generated ??= app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Portcullis hub admin API",
      version: "1",
      description:
        'The hub\'s admin API. Every operation needs `Authorization: Bearer <token>` with the role it names. Errors are `{"error": {"code", "message"}}`; lists take `limit` and `cursor` and answer `nextCursor`.',
    },
  });
  return origin === undefined ? generated : { ...generated, servers: [{ url: origin }] };
}
