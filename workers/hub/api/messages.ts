import { Hono } from "hono";
import type { HubEnv } from "../app.ts";
import { getMessage, listMessages } from "../db/messages.ts";
import { ApiError } from "./errors.ts";
import { decodeCursor, encodeCursor, pageLimit } from "./pagination.ts";

export const messages = new Hono<HubEnv>();

function messageId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw new ApiError(400, "bad_request", "message id must be a positive integer");
  return Number(raw);
}

/** GET /api/v1/messages — newest first, cursor paginated. */
messages.get("/", async (c) => {
  const limit = pageLimit(c.req.query("limit"));
  const items = await listMessages(c.env.DB, limit, decodeCursor(c.req.query("cursor")));
  const last = items[items.length - 1];
  return c.json({ items, nextCursor: items.length === limit && last !== undefined ? encodeCursor(last.id) : null });
});

/** GET /api/v1/messages/{id} — metadata and per-agent results. */
messages.get("/:id", async (c) => {
  const record = await getMessage(c.env.DB, messageId(c.req.param("id")));
  if (record === null) throw new ApiError(404, "not_found", "No such message.");
  const { r2Key: _, ...rest } = record;
  return c.json(rest);
});

/** GET /api/v1/messages/{id}/raw — the exact bytes the edge received. */
messages.get("/:id/raw", async (c) => {
  const record = await getMessage(c.env.DB, messageId(c.req.param("id")));
  if (record === null) throw new ApiError(404, "not_found", "No such message.");
  const object = await c.env.MAILBOX.get(record.r2Key);
  if (object === null) throw new ApiError(404, "not_found", "The message's stored bytes are missing.");
  return new Response(object.body, {
    headers: {
      "content-type": "message/rfc822",
      "content-length": String(object.size),
      "content-disposition": `attachment; filename="${record.id}.eml"`,
    },
  });
});
