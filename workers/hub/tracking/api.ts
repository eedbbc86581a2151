import { z } from "@hono/zod-openapi";
import { MAX_PAGE_SIZE } from "../../../shared/limits.ts";
import { ApiError } from "../api/errors.ts";
import { ERRORS, json, route, router } from "../api/openapi.ts";
import { TRACKING_OUTCOMES, TrackingEvent } from "./event.ts";
import { deliveryTrace, mailFlow, searchEvents } from "./queries.ts";

/** A delivery id as the edge makes it (a UUID); either case is accepted. */
const DeliveryIdParam = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, "must be a delivery id (a UUID)");
const Time = z.iso.datetime({ offset: true });

const SearchQuery = z.object({
  messageId: z.string().min(1).max(998).optional().openapi({ description: "The Message-ID header, with or without angle brackets" }),
  sender: z.string().max(512).optional().openapi({ description: "Envelope sender, case-insensitive; empty for the null sender" }),
  recipient: z.string().min(1).max(512).optional().openapi({ description: "One envelope recipient, case-insensitive" }),
  since: Time.optional().openapi({ description: "Events at or after this time (ISO 8601)" }),
  until: Time.optional().openapi({ description: "Events before this time (ISO 8601)" }),
  outcome: z.enum(TRACKING_OUTCOMES).optional(),
  deliveryId: DeliveryIdParam.optional(),
  cursor: z.string().max(256).optional().openapi({ description: "nextCursor of the previous page" }),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
});

/** The groups these routes appear under in the OpenAPI document. */
const TRACKING = "Message tracking";
const STATS = "Statistics";

const TrackingPage = z.object({ items: z.array(TrackingEvent), nextCursor: z.string().nullable() }).openapi("TrackingPage");
const Trace = z.object({ deliveryId: z.string(), items: z.array(TrackingEvent) }).openapi("TrackingTrace");

/** Message tracking, mounted at /api/v1/tracking. */
export const tracking = router();

tracking.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: [TRACKING],
    summary: "Search message tracking events, newest first",
    request: { query: SearchQuery },
    responses: { 200: json(TrackingPage, "A page of events"), 400: ERRORS[400], 401: ERRORS[401], 403: ERRORS[403] },
  }),
  async (c) => c.json(await searchEvents(c.env.DB, c.req.valid("query")), 200),
);

tracking.openapi(
  route("read-only", {
    method: "get",
    path: "/{deliveryId}",
    tags: [TRACKING],
    summary: "Every event of one delivery, oldest first: the message's trace",
    request: { params: z.object({ deliveryId: DeliveryIdParam }) },
    responses: { 200: json(Trace, "The delivery's events"), ...ERRORS },
  }),
  async (c) => {
    const deliveryId = c.req.valid("param").deliveryId.toLowerCase();
    const items = await deliveryTrace(c.env.DB, deliveryId);
    if (items.length === 0) throw new ApiError(404, "not_found", "No tracking events for this delivery id.");
    return c.json({ deliveryId, items }, 200);
  },
);

const FlowQuery = z.object({
  hours: z.coerce.number().int().min(1).max(168).default(24).openapi({ description: "How far back from now (1–168)" }),
  bucketMinutes: z.coerce.number().int().min(1).max(1440).default(60).openapi({ description: "Bucket size (1–1440)" }),
});

const FlowBucket = z
  .object({ at: z.string(), accepted: z.number(), rejected: z.number(), quarantined: z.number(), spooled: z.number(), tempfailed: z.number() })
  .openapi("FlowBucket");
const Flow = z.object({ since: z.string(), until: z.string(), bucketMinutes: z.number(), buckets: z.array(FlowBucket) }).openapi("MailFlow");

/** Statistics from the tracking events, mounted at /api/v1/stats. */
export const stats = router();

stats.openapi(
  route("read-only", {
    method: "get",
    path: "/flow",
    tags: [STATS],
    summary: "Mail flow: decisions per time bucket and outcome (accepted, rejected, quarantined, spooled, tempfailed)",
    request: { query: FlowQuery },
    responses: { 200: json(Flow, "Buckets, oldest first, each labelled with its start"), 400: ERRORS[400], 401: ERRORS[401], 403: ERRORS[403] },
  }),
  async (c) => {
    const { hours, bucketMinutes } = c.req.valid("query");
    const now = Date.now();
    const since = new Date(now - hours * 3_600_000).toISOString();
    const until = new Date(now).toISOString();
    return c.json({ since, until, bucketMinutes, buckets: await mailFlow(c.env.DB, { since, until, bucketMinutes }) }, 200);
  },
);
