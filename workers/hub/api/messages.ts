import { Hono } from "hono";
import type { HubEnv } from "../app.ts";
import { withTags } from "../../../shared/tags.ts";
import { type Folder, getMessage, listMessages } from "../db/messages.ts";
import { onwardForMessage } from "../db/onward.ts";
import { ApiError } from "./errors.ts";
import { decodeCursor, encodeCursor, pageLimit } from "./pagination.ts";

export const messages = new Hono<HubEnv>();

function messageId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw new ApiError(400, "bad_request", "message id must be a positive integer");
  return Number(raw);
}

function folder(raw: string | undefined): Folder {
  if (raw === undefined) return "all";
  if (raw === "inbox" || raw === "quarantine" || raw === "all") return raw;
  throw new ApiError(400, "bad_request", "folder must be inbox, quarantine or all");
}

/** GET /api/v1/messages?folder=inbox|quarantine|all — newest first, cursor paginated. */
messages.get("/", async (c) => {
  const limit = pageLimit(c.req.query("limit"));
  const items = await listMessages(c.env.DB, limit, decodeCursor(c.req.query("cursor")), folder(c.req.query("folder")));
  const last = items[items.length - 1];
  return c.json({ items, nextCursor: items.length === limit && last !== undefined ? encodeCursor(last.id) : null });
});

/** GET /api/v1/messages/{id} — metadata, per-agent results, and its onward steps (webhook and forward routes) with their state. */
messages.get("/:id", async (c) => {
  const record = await getMessage(c.env.DB, messageId(c.req.param("id")));
  if (record === null) throw new ApiError(404, "not_found", "No such message.");
  const { r2Key: _, ...rest } = record;
  return c.json({ ...rest, onward: await onwardForMessage(c.env.DB, record.id) });
});

/**
 * GET /api/v1/messages/{id}/raw — the exact bytes the edge received; with `?tagged=true`, the
 * copy as delivered, with the X-Portcullis-SCL and X-Portcullis-Status headers on top.
 */
messages.get("/:id/raw", async (c) => {
  const record = await getMessage(c.env.DB, messageId(c.req.param("id")));
  if (record === null) throw new ApiError(404, "not_found", "No such message.");
  const object = await c.env.MAILBOX.get(record.r2Key);
  if (object === null) throw new ApiError(404, "not_found", "The message's stored bytes are missing.");
  const tagged = c.req.query("tagged");
  if (tagged !== undefined && tagged !== "true" && tagged !== "false") throw new ApiError(400, "bad_request", "tagged must be true or false");
  const body = tagged === "true" ? withTags(new Uint8Array(await object.arrayBuffer()), record.tags) : object.body;
  return new Response(body, {
    headers: {
      "content-type": "message/rfc822",
      ...(tagged === "true" ? {} : { "content-length": String(object.size) }),
      "content-disposition": `attachment; filename="${record.id}.eml"`,
    },
  });
});
