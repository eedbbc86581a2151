import { z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { HubEnv } from "../app.ts";
import { type AuditEntry, insertAudit, listAudit, type NewAuditEntry } from "../auth/audit-log.ts";
import { MAX_AUDIT_SUMMARY_CHARS } from "../auth/limits.ts";
import { maskPath } from "../auth/redact.ts";
import { ROLES } from "../auth/roles.ts";
import { ApiError } from "./errors.ts";
import { ERRORS, json, route, router } from "./openapi.ts";
import { Cursor, decodeCursor, encodeCursor, Limit, NextCursor } from "./pagination.ts";
import { hubLog } from "../../../shared/log.ts";

/**
 * The audit log: every change made through the admin API, recorded after it is answered. A change
 * is any request other than GET, HEAD or OPTIONS that succeeded (status below 400), or that a
 * handler reported with {@link noteChange} before failing part way (an import stopped by a
 * conflict has still changed what it wrote).
 */

/** What a handler says about the change it made: a line for people, and the object it touched. */
export interface AuditNote {
  summary: string;
  objectId: string | null;
}

/**
 * Describes the change a handler made, for the audit log. Never put a token or a recipient address
 * in clear into either field: mask addresses with `maskAddress`.
 *
 * @example
 * noteChange(c, `accepted domain ${name}`, name);
 */
export function noteChange(c: Context<HubEnv>, summary: string, objectId: string | null = null): void {
  c.set("auditNote", { summary: summary.slice(0, MAX_AUDIT_SUMMARY_CHARS), objectId });
}

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Records each change after its answer is ready. A failing insert never turns a change that
 * happened into an error: the entry is written to the log instead (Workers Logs keep it), so it
 * can still be found.
 */
export const recordChanges: MiddlewareHandler<HubEnv> = async (c, next) => {
  await next();
  const principal = c.get("principal");
  const note = c.get("auditNote");
  if (READS.has(c.req.method) || principal === undefined || (c.res.status >= 400 && note === undefined)) return;
  const entry: NewAuditEntry = {
    at: new Date().toISOString(),
    actor: { id: principal.id, name: principal.name, role: principal.role, accessIdentity: c.get("accessIdentity") ?? null },
    method: c.req.method,
    path: maskPath(c.req.path),
    summary: note?.summary ?? `${c.req.method} ${routePath(c, -1)}`,
    objectId: note?.objectId ?? null,
    status: c.res.status,
  };
  try {
    await insertAudit(c.env.DB, entry);
  } catch (err) {
    hubLog(c.env.HUB_ID).error("audit_write_failed", { error: String(err), entry });
  }
};

const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    at: z.string().openapi({ format: "date-time" }),
    actor: z.object({
      id: z.string().openapi({ description: "The token's id (`bootstrap` for the ADMIN_TOKEN secret)." }),
      name: z.string(),
      role: z.enum(ROLES),
      accessIdentity: z.string().nullable().openapi({ description: "Who Cloudflare Access let in (email or service token), when Access is in front." }),
    }),
    method: z.string().openapi({ example: "PUT" }),
    path: z.string().openapi({ description: "The request path; recipient addresses are masked.", example: "/api/v1/domains/example.com" }),
    summary: z.string().openapi({ example: "accepted domain example.com" }),
    objectId: z.string().nullable(),
    status: z.number().int().openapi({ description: "The HTTP status the change was answered with." }),
  })
  .openapi("AuditEntry");

const AuditPage = z.object({ items: z.array(AuditEntrySchema), nextCursor: NextCursor }).openapi("AuditPage");

const Instant = (what: string) =>
  z
    .string()
    .optional()
    .openapi({ description: `${what} (ISO 8601, e.g. 2026-11-21 or 2026-11-21T09:00:00Z).`, example: "2026-11-21T00:00:00Z" });

const AuditQuery = z.object({
  since: Instant("Entries at or after this time"),
  until: Instant("Entries before this time"),
  actor: z.string().optional().openapi({ description: "Only this token's changes: its id or its name." }),
  cursor: Cursor,
  limit: Limit,
});

function instant(name: string, raw: string | undefined): string | null {
  if (raw === undefined || raw === "") return null;
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw new ApiError(400, "bad_request", `${name} must be a date or time (ISO 8601)`);
  return new Date(ms).toISOString();
}

export const audit = router();

audit.openapi(
  route("admin", {
    method: "get",
    path: "/",
    tags: ["Tokens and audit"],
    summary: "Read the audit log",
    description: "Every change made through the admin API, newest first: who (token id and name), what, when, and the status it got.",
    request: { query: AuditQuery },
    responses: { 200: json(AuditPage, "A page of audit entries"), ...ERRORS },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const items: AuditEntry[] = await listAudit(c.env.DB, {
      since: instant("since", q.since),
      until: instant("until", q.until),
      actor: q.actor === undefined || q.actor === "" ? null : q.actor,
      before: decodeCursor(q.cursor),
      limit: q.limit,
    });
    const last = items[items.length - 1];
    return c.json({ items, nextCursor: items.length === q.limit && last !== undefined ? encodeCursor(last.id) : null }, 200);
  },
);
