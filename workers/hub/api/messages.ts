import { z } from "@hono/zod-openapi";
import { withTags } from "../../../shared/tags.ts";
import { getMessage, listMessages } from "../db/messages.ts";
import { onwardForMessage } from "../db/onward.ts";
import { ApiError } from "./errors.ts";
import { OnwardStep } from "./onward.ts";
import { ERRORS, idParams, json, route, router } from "./openapi.ts";
import { Cursor, decodeCursor, encodeCursor, Limit, NextCursor } from "./pagination.ts";

export const messages = router();

const Message = z
  .object({
    id: z.number().int(),
    deliveryId: z.string().openapi({ description: "Created once at the edge, the same on every retry." }),
    edgeId: z.string(),
    from: z.string().openapi({ description: "The envelope sender." }),
    to: z.array(z.string()).openapi({ description: "The envelope recipients." }),
    subject: z.string().nullable(),
    messageId: z.string().nullable(),
    size: z.number().int(),
    sha256: z.string(),
    action: z.string().openapi({ description: "`accept` or `quarantine`." }),
    scl: z.number().int(),
    agents: z.array(z.object({ agent: z.string(), result: z.enum(["pass", "fail", "skip"]), reason: z.string(), detail: z.string().optional() })),
    tags: z.record(z.string(), z.string()).openapi({ description: "Headers added to tagged copies (X-Portcullis-SCL, X-Portcullis-Status)." }),
    receivedAt: z.string(),
    storedAt: z.string(),
  })
  .openapi("Message");

const MessagePage = z.object({ items: z.array(Message), nextCursor: NextCursor }).openapi("MessagePage");

const MessageWithOnward = Message.extend({ onward: z.array(OnwardStep) }).openapi("MessageWithOnward");

const MessageParams = idParams("message", "The message's id.");

const MessageQuery = z.object({
  folder: z
    .enum(["inbox", "quarantine", "all"], { error: "folder must be inbox, quarantine or all" })
    .default("all")
    .openapi({ description: "inbox: accepted mail; quarantine: quarantined mail; all: both." }),
  limit: Limit,
  cursor: Cursor,
});

messages.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: ["Messages"],
    summary: "List stored messages",
    description: "Newest first: id, delivery id, envelope, subject, size, received time and per-agent results.",
    request: { query: MessageQuery },
    responses: { 200: json(MessagePage, "A page of messages"), ...ERRORS },
  }),
  async (c) => {
    const { folder, limit, cursor } = c.req.valid("query");
    const items = await listMessages(c.env.DB, limit, decodeCursor(cursor), folder);
    const last = items[items.length - 1];
    return c.json({ items, nextCursor: items.length === limit && last !== undefined ? encodeCursor(last.id) : null }, 200);
  },
);

messages.openapi(
  route("read-only", {
    method: "get",
    path: "/{id}",
    tags: ["Messages"],
    summary: "Show a stored message",
    description: "Metadata, per-agent results, and its onward steps (webhook and forward routes) with their state.",
    request: { params: MessageParams },
    responses: { 200: json(MessageWithOnward, "The message"), ...ERRORS },
  }),
  async (c) => {
    const record = await getMessage(c.env.DB, c.req.valid("param").id);
    if (record === null) throw new ApiError(404, "not_found", "No such message.");
    const { r2Key: _, ...rest } = record;
    return c.json({ ...rest, onward: await onwardForMessage(c.env.DB, record.id) }, 200);
  },
);

messages.openapi(
  route("read-only", {
    method: "get",
    path: "/{id}/raw",
    tags: ["Messages"],
    summary: "Download a stored message",
    description:
      "The exact bytes the edge received; with `tagged=true`, the copy as delivered, with the X-Portcullis-SCL and X-Portcullis-Status headers on top.",
    request: {
      params: MessageParams,
      query: z.object({
        tagged: z
          .enum(["true", "false"], { error: "tagged must be true or false" })
          .default("false")
          .openapi({ description: "true: the copy as delivered, with its tags." }),
      }),
    },
    responses: {
      200: { content: { "message/rfc822": { schema: z.string().openapi({ format: "binary" }) } }, description: "The message" },
      ...ERRORS,
    },
  }),
  async (c) => {
    const record = await getMessage(c.env.DB, c.req.valid("param").id);
    if (record === null) throw new ApiError(404, "not_found", "No such message.");
    const object = await c.env.MAILBOX.get(record.r2Key);
    if (object === null) throw new ApiError(404, "not_found", "The message's stored bytes are missing.");
    const tagged = c.req.valid("query").tagged === "true";
    const body = tagged ? withTags(new Uint8Array(await object.arrayBuffer()), record.tags) : object.body;
    return new Response(body, {
      headers: {
        "content-type": "message/rfc822",
        ...(tagged ? {} : { "content-length": String(object.size) }),
        "content-disposition": `attachment; filename="${record.id}.eml"`,
      },
    });
  },
);
