import { z } from "@hono/zod-openapi";
import { collectMetrics, METRICS_DEFAULT_WINDOW_SECONDS, METRICS_MAX_WINDOW_SECONDS, METRICS_MIN_WINDOW_SECONDS } from "../metrics/collect.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../metrics/exposition.ts";
import { edgeClient } from "../sync/edge-client.ts";
import { requireToken } from "./auth.ts";
import { ERRORS, route, router } from "./openapi.ts";

/**
 * GET /metrics — Prometheus metrics, mounted at the root where scrapers look for them. Outside
 * /api/v1, so it brings the bearer-token check along itself; a read-only token is enough.
 */
export const metrics = router();

metrics.use("*", requireToken);

const WindowQuery = z.object({
  window: z.coerce
    .number({ error: `window must be a whole number of seconds, ${METRICS_MIN_WINDOW_SECONDS}–${METRICS_MAX_WINDOW_SECONDS}` })
    .int(`window must be a whole number of seconds, ${METRICS_MIN_WINDOW_SECONDS}–${METRICS_MAX_WINDOW_SECONDS}`)
    .min(METRICS_MIN_WINDOW_SECONDS, `window must be at least ${METRICS_MIN_WINDOW_SECONDS} seconds`)
    .max(METRICS_MAX_WINDOW_SECONDS, `window must be at most ${METRICS_MAX_WINDOW_SECONDS} seconds`)
    .default(METRICS_DEFAULT_WINDOW_SECONDS)
    .openapi({
      description: `Seconds of message tracking the message counts cover (default ${METRICS_DEFAULT_WINDOW_SECONDS}). Set it to the scrape interval and each message is counted by exactly one scrape.`,
      example: METRICS_DEFAULT_WINDOW_SECONDS,
    }),
});

metrics.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: ["Monitoring"],
    summary: "Prometheus metrics",
    description:
      "Prometheus text exposition format 0.0.4, every name prefixed `portcullis_`: messages by verdict and outcome, agent results and the SCL histogram over a recent window of message tracking; per edge whether it answered, sync lag, directory version and convergence, spool depth and oldest age, and each upstream hub's breaker as the edge sees it. An edge that does not answer is `portcullis_edge_up 0`; the scrape still succeeds. See docs/operations.md, “Logs and metrics”.",
    request: { query: WindowQuery },
    responses: { 200: { content: { "text/plain": { schema: z.string() } }, description: "The metrics" }, ...ERRORS },
  }),
  async (c) => {
    const text = await collectMetrics(c.env, edgeClient, c.req.valid("query").window);
    return c.text(text, 200, { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" });
  },
);
