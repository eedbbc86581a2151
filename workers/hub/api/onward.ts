import { Hono } from "hono";
import type { HubEnv } from "../app.ts";
import { getOnward, listOnward, type OnwardState, retryFailedOnward } from "../db/onward.ts";
import { ONWARD_EXPIRE_SECONDS } from "../onward/limits.ts";
import { enqueueOnward } from "../onward/queue.ts";
import { ApiError } from "./errors.ts";
import { decodeCursor, encodeCursor, pageLimit } from "./pagination.ts";

/** Onward steps across messages: what operators look at when a webhook or forward route fails. */
export const onward = new Hono<HubEnv>();

function onwardId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw new ApiError(400, "bad_request", "onward id must be a positive integer");
  return Number(raw);
}

function state(raw: string | undefined): OnwardState | null {
  if (raw === undefined) return null;
  if (raw === "pending" || raw === "delivered" || raw === "failed") return raw;
  throw new ApiError(400, "bad_request", "state must be pending, delivered or failed");
}

/** GET /api/v1/onward?state=pending|delivered|failed — onward steps, newest first, cursor paginated. */
onward.get("/", async (c) => {
  const limit = pageLimit(c.req.query("limit"));
  const items = await listOnward(c.env.DB, state(c.req.query("state")), limit, decodeCursor(c.req.query("cursor")));
  const last = items[items.length - 1];
  return c.json({ items, nextCursor: items.length === limit && last !== undefined ? encodeCursor(last.id) : null });
});

/** GET /api/v1/onward/{id} — one onward step. */
onward.get("/:id", async (c) => {
  const record = await getOnward(c.env.DB, onwardId(c.req.param("id")));
  if (record === null) throw new ApiError(404, "not_found", "No such onward step.");
  return c.json(record);
});

/**
 * POST /api/v1/onward/{id}/retry — a failed step back to pending, due now, with a fresh expiry
 * (once the receiver is fixed). 409 unless it is failed.
 */
onward.post("/:id/retry", async (c) => {
  const id = onwardId(c.req.param("id"));
  const now = Date.now();
  const record = await retryFailedOnward(c.env.DB, id, new Date(now).toISOString(), new Date(now + ONWARD_EXPIRE_SECONDS * 1000).toISOString());
  if (record === null) {
    if ((await getOnward(c.env.DB, id)) === null) throw new ApiError(404, "not_found", "No such onward step.");
    throw new ApiError(409, "not_failed", "Only a failed onward step can be retried.");
  }
  await enqueueOnward(c.env, [id]);
  return c.json(record);
});
