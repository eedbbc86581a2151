import { z } from "@hono/zod-openapi";
import { MAX_TOKEN_BODY_BYTES, MAX_TOKEN_NAME_CHARS } from "../auth/limits.ts";
import { ROLES } from "../auth/roles.ts";
import { BOOTSTRAP_ID, createToken, getToken, listTokens, revokeToken } from "../auth/tokens.ts";
import { noteChange } from "./audit.ts";
import { ApiError } from "./errors.ts";
import { documentedJson, ERRORS, failure, json, readJson, route, router } from "./openapi.ts";
import { decodeCursor, encodeCursor, NextCursor, PageQuery } from "./pagination.ts";

/**
 * API tokens: created with a role, shown once, stored as their SHA-256 only, revoked by id. The
 * ADMIN_TOKEN secret is the bootstrap admin token (id and name `bootstrap`): listed like the others,
 * but only rotating the secret replaces it.
 */
export const tokens = router();

const RoleSchema = z.enum(ROLES).openapi("Role", {
  description: "read-only: every GET. operator: read-only plus day-to-day actions (queues, quarantine, sync, onward retry). admin: everything.",
});

const Token = z
  .object({
    id: z.string().openapi({ example: "1f0c6b1e-8a47-4a52-9d8e-3f3f2f6c9b21" }),
    name: z.string().openapi({ example: "monitoring" }),
    role: RoleSchema,
    bootstrap: z.boolean().openapi({ description: "The ADMIN_TOKEN secret: rotate the secret to replace it; it cannot be revoked here." }),
    createdAt: z.string().openapi({ format: "date-time" }),
    createdBy: z.string().nullable().openapi({ description: "The id of the token that created this one." }),
    expiresAt: z.string().nullable().openapi({ format: "date-time" }),
    lastUsedAt: z.string().nullable().openapi({ format: "date-time", description: "Updated at most once a minute." }),
    revoked: z.boolean(),
    revokedAt: z.string().nullable().openapi({ format: "date-time" }),
    revokedBy: z.string().nullable(),
  })
  .openapi("Token");

const TokenList = z.object({ items: z.array(Token), nextCursor: NextCursor }).openapi("TokenList");

const CreatedToken = Token.extend({
  token: z.string().openapi({ description: "The token itself: shown only in this answer, store it now.", example: "pc_3q2-7wF…" }),
}).openapi("CreatedToken");

const NewTokenBody = z
  .strictObject({
    name: z.string().trim().min(1).max(MAX_TOKEN_NAME_CHARS).openapi({ description: "A label for people: who or what uses the token.", example: "monitoring" }),
    role: RoleSchema,
    expiresAt: z
      .string()
      .refine((s) => !Number.isNaN(Date.parse(s)), "must be a date or time (ISO 8601)")
      .optional()
      .openapi({
        format: "date-time",
        description: "When the token stops working; leave out for a token that does not expire.",
        example: "2027-01-01T00:00:00Z",
      }),
  })
  .openapi({ example: { name: "monitoring", role: "read-only", expiresAt: "2027-01-01T00:00:00Z" } });

const TokenParams = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, example: "1f0c6b1e-8a47-4a52-9d8e-3f3f2f6c9b21" }),
});

tokens.openapi(
  route("admin", {
    method: "post",
    path: "/",
    tags: ["Tokens and audit"],
    summary: "Create an API token",
    description: "Creates a token with a role. The answer is the only time the token is shown: only its SHA-256 is stored.",
    request: { body: documentedJson(tokens, "NewToken", NewTokenBody, "The token's name, role and optional expiry") },
    responses: { 201: json(CreatedToken, "The new token, with the token itself"), ...ERRORS, 413: failure("The body is too large") },
  }),
  async (c) => {
    const body = await readJson(c, NewTokenBody, { maxBytes: MAX_TOKEN_BODY_BYTES, notJson: 'The body must be JSON: {"name", "role", "expiresAt"?}.' });
    let expiresAt: string | null = null;
    if (body.expiresAt !== undefined) {
      const ms = Date.parse(body.expiresAt);
      if (ms <= Date.now()) throw new ApiError(400, "bad_request", "expiresAt: must be in the future");
      expiresAt = new Date(ms).toISOString();
    }
    const { record, token } = await createToken(c.env.DB, { name: body.name, role: body.role, expiresAt, createdBy: c.get("principal")?.id ?? BOOTSTRAP_ID });
    noteChange(c, `created ${record.role} token "${record.name}"${expiresAt === null ? "" : ` expiring ${expiresAt}`}`, record.id);
    return c.json({ ...record, token }, 201);
  },
);

tokens.openapi(
  route("admin", {
    method: "get",
    path: "/",
    tags: ["Tokens and audit"],
    summary: "List API tokens",
    description: "Every token in the order they were created, revoked and expired ones included. Never the tokens themselves.",
    request: { query: PageQuery },
    responses: { 200: json(TokenList, "A page of tokens"), ...ERRORS },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const { items, last } = await listTokens(c.env.DB, limit, decodeCursor(cursor));
    return c.json({ items, nextCursor: items.length === limit && last !== null ? encodeCursor(last) : null }, 200);
  },
);

tokens.openapi(
  route("admin", {
    method: "get",
    path: "/{id}",
    tags: ["Tokens and audit"],
    summary: "Show an API token",
    request: { params: TokenParams },
    responses: { 200: json(Token, "The token (never the token itself)"), ...ERRORS },
  }),
  async (c) => {
    const record = await getToken(c.env.DB, c.req.valid("param").id);
    if (record === null) throw new ApiError(404, "not_found", "No such token.");
    return c.json(record, 200);
  },
);

tokens.openapi(
  route("admin", {
    method: "delete",
    path: "/{id}",
    tags: ["Tokens and audit"],
    summary: "Revoke an API token",
    description:
      "The token stops working at once. Revoking a revoked token changes nothing. The bootstrap token is the ADMIN_TOKEN secret: rotate the secret instead (409).",
    request: { params: TokenParams },
    responses: { 200: json(Token, "The revoked token"), ...ERRORS, 409: failure("The bootstrap token cannot be revoked") },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    if (id === BOOTSTRAP_ID)
      throw new ApiError(409, "bootstrap_token", "The bootstrap token is the ADMIN_TOKEN secret: rotate it with `wrangler secret put ADMIN_TOKEN`.");
    const record = await revokeToken(c.env.DB, id, c.get("principal")?.id ?? BOOTSTRAP_ID, new Date().toISOString());
    if (record === null) throw new ApiError(404, "not_found", "No such token.");
    noteChange(c, `revoked ${record.role} token "${record.name}"`, record.id);
    return c.json(record, 200);
  },
);
