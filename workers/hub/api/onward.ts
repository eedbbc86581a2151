import { z } from "@hono/zod-openapi";
import { getOnward, listOnward, retryFailedOnward } from "../db/onward.ts";
import { ONWARD_EXPIRE_SECONDS } from "../onward/limits.ts";
import { enqueueOnward } from "../onward/queue.ts";
import { noteChange } from "./audit.ts";
import { ApiError } from "./errors.ts";
import { ERRORS, failure, idParams, json, route, router } from "./openapi.ts";
import { Cursor, decodeCursor, encodeCursor, Limit, NextCursor } from "./pagination.ts";

/** Onward steps across messages: what operators look at when a webhook or forward route fails. */
export const onward = router();

const ONWARD_STATES = ["pending", "delivered", "failed"] as const;

/** An onward step as the API shows it (never with the webhook secret). */
export const OnwardStep = z
  .object({
    id: z.number().int(),
    messageId: z.number().int(),
    route: z.discriminatedUnion("type", [
      z.object({ type: z.literal("webhook"), url: z.string() }),
      z.object({ type: z.literal("forward"), address: z.string() }),
    ]),
    recipients: z.array(z.string()).openapi({ description: "The message's recipients this route serves." }),
    state: z.enum(ONWARD_STATES),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    lastAttemptAt: z.string().nullable(),
    nextAttemptAt: z.string().nullable().openapi({ description: "When the next attempt is due; null once delivered or failed." }),
    expiresAt: z.string(),
    createdAt: z.string(),
    doneAt: z.string().nullable().openapi({ description: "When it became delivered or failed." }),
  })
  .openapi("OnwardStep");

const OnwardPage = z.object({ items: z.array(OnwardStep), nextCursor: NextCursor }).openapi("OnwardPage");

const OnwardParams = idParams("onward", "The onward step's id.");

const OnwardQuery = z.object({
  state: z.enum(ONWARD_STATES, { error: "state must be pending, delivered or failed" }).optional().openapi({ description: "Only steps in this state." }),
  limit: Limit,
  cursor: Cursor,
});

onward.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: ["Messages"],
    summary: "List onward steps",
    description: "Webhook and forward steps across messages, newest first; `state=failed` lists the ones that gave up.",
    request: { query: OnwardQuery },
    responses: { 200: json(OnwardPage, "A page of onward steps"), ...ERRORS },
  }),
  async (c) => {
    const { state, limit, cursor } = c.req.valid("query");
    const items = await listOnward(c.env.DB, state ?? null, limit, decodeCursor(cursor));
    const last = items[items.length - 1];
    return c.json({ items, nextCursor: items.length === limit && last !== undefined ? encodeCursor(last.id) : null }, 200);
  },
);

onward.openapi(
  route("read-only", {
    method: "get",
    path: "/{id}",
    tags: ["Messages"],
    summary: "Show an onward step",
    request: { params: OnwardParams },
    responses: { 200: json(OnwardStep, "The onward step"), ...ERRORS },
  }),
  async (c) => {
    const record = await getOnward(c.env.DB, c.req.valid("param").id);
    if (record === null) throw new ApiError(404, "not_found", "No such onward step.");
    return c.json(record, 200);
  },
);

onward.openapi(
  route("operator", {
    method: "post",
    path: "/{id}/retry",
    tags: ["Messages"],
    summary: "Retry a failed onward step",
    description: "Puts a failed step back to pending, due now, with a fresh expiry (once the receiver is fixed). 409 unless it is failed.",
    request: { params: OnwardParams },
    responses: { 200: json(OnwardStep, "The step, pending again"), ...ERRORS, 409: failure("The step is not failed") },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const now = Date.now();
    const record = await retryFailedOnward(c.env.DB, id, new Date(now).toISOString(), new Date(now + ONWARD_EXPIRE_SECONDS * 1000).toISOString());
    if (record === null) {
      if ((await getOnward(c.env.DB, id)) === null) throw new ApiError(404, "not_found", "No such onward step.");
      throw new ApiError(409, "not_failed", "Only a failed onward step can be retried.");
    }
    await enqueueOnward(c.env, [id]);
    noteChange(c, `retried onward step ${id} of message ${record.messageId}`, String(id));
    return c.json(record, 200);
  },
);
