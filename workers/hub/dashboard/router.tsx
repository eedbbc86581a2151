import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { edgeClient } from "../sync/edge-client.ts";
import type { EdgeClientOf } from "./edges.ts";
import type { DashboardEnv } from "./guard.ts";
import { Bare, render } from "./layout.tsx";
import { loginRoutes } from "./pages/login.tsx";
import { overviewRoutes } from "./pages/overview.tsx";
import { quarantineRoutes } from "./pages/quarantine.tsx";
import { queueRoutes } from "./pages/queues.tsx";
import { recipientRoutes } from "./pages/recipients.tsx";
import { traceRoutes } from "./pages/trace.tsx";
import { hubLog } from "../../../shared/log.ts";

export interface DashboardOptions {
  /** How the hub reaches an edge; the real edge client unless a test gives another. */
  edgeClient?: EdgeClientOf;
}

/**
 * The operator dashboard: server-rendered pages over the hub's own functions (no HTTP to itself),
 * behind a session started with an API token. Every route sets its own guards, so mounting this
 * router at `/` touches no other route of the hub.
 */
export function createDashboard(options: DashboardOptions = {}): Hono<DashboardEnv> {
  const clientOf = options.edgeClient ?? edgeClient;
  const dashboard = new Hono<DashboardEnv>();

  dashboard.onError((err, c) => {
    const status = err instanceof HTTPException ? err.status : 500;
    if (status === 500) hubLog(c.env.HUB_ID).error("dashboard_error", { path: new URL(c.req.url).pathname, error: String(err), stack: err.stack });
    const message = err instanceof HTTPException ? err.message : "Something went wrong; the error was logged.";
    return render(
      c,
      <Bare title="Error" nonce={c.var.secureHeadersNonce}>
        <section class="card">
          <h1>{status === 401 ? "Signed out" : status === 403 ? "Not allowed" : "Error"}</h1>
          <p class="error" role="alert">
            {message}
          </p>
          <p>
            <a href={status === 401 ? "/login" : "/"}>{status === 401 ? "Sign in" : "Back to the overview"}</a>
          </p>
        </section>
      </Bare>,
      err instanceof HTTPException ? (err.status as 400) : 500,
    );
  });

  dashboard.route("/", loginRoutes());
  dashboard.route("/", overviewRoutes(clientOf));
  dashboard.route("/queues", queueRoutes(clientOf));
  dashboard.route("/quarantine", quarantineRoutes());
  dashboard.route("/trace", traceRoutes());
  dashboard.route("/recipients", recipientRoutes(clientOf));
  return dashboard;
}
