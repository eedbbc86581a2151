import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { HubEnv } from "../app.ts";
import { createExport, ExportBusyError, ExportTooLargeError } from "../backup/export.ts";
import { listExports, retention } from "../backup/retention.ts";
import { isStandby, standbyRound } from "../backup/standby.ts";
import { standbyStatus } from "../backup/status.ts";
import { requestSync, scheduler } from "../sync/trigger.ts";
import { noteChange } from "./audit.ts";
import { ApiError } from "./errors.ts";
import { documentedJson, ERRORS, failure, json, readJson, route, router } from "./openapi.ts";

export const backups = router();

/** A restore request is a key and a flag. */
const MAX_RESTORE_BODY_BYTES = 4096;

/**
 * The admin API paths that change the directory or policy. A standby refuses writes to them:
 * they would be overwritten by the primary's next export, and edges would get data the primary
 * never had.
 */
const DIRECTORY_WRITES = /^\/api\/v1\/(domains|recipients|policies|edges|relay-clients|hubs)(\/|$)/;
/**
 * Actions on stored mail that a standby only holds for its primary: releasing it from the
 * quarantine here would route it onward twice (here, and at the primary once handed back), and
 * feedback recorded here would never reach the primary's content filter.
 */
const HELD_MAIL_ACTIONS = /^\/api\/v1\/(quarantine|feedback|messages\/[^/]+\/report)(\/|$)/;
const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Why a standby refuses to release, delete or report the mail it holds (API and dashboard alike). */
export function heldMailRefusal(env: Env): string {
  return `This hub (${env.HUB_ID}) is a standby: the mail it stores is handed back to the primary hub; act on it there.`;
}

/** On a standby, 409 `standby` for directory, policy and held-mail writes (reads are fine). */
export const refuseStandbyWrites: MiddlewareHandler<HubEnv> = async (c, next) => {
  if (isStandby(c.env) && !READS.has(c.req.method)) {
    const where = `This hub (${c.env.HUB_ID}) is a standby`;
    if (DIRECTORY_WRITES.test(c.req.path)) {
      throw new ApiError(
        409,
        "standby",
        `${where}: directory and policy changes are made on the primary hub and reach this one with its next export. To make this hub the primary, set HUB_ROLE = "primary" (see docs/operations.md#standby-hub).`,
      );
    }
    if (HELD_MAIL_ACTIONS.test(c.req.path)) throw new ApiError(409, "standby", heldMailRefusal(c.env));
  }
  await next();
};

const Counts = z.object({
  domains: z.number().int(),
  recipients: z.number().int(),
  addresses: z.number().int(),
  policies: z.number().int(),
  edges: z.number().int(),
});

const ExportListing = z
  .object({
    key: z.string(),
    hubId: z.string(),
    root: z.string().nullable().openapi({ description: "The snapshot root hash a hub restored from this export builds." }),
    contentHash: z.string().nullable(),
    schema: z.number().int().nullable(),
    size: z.number().int().openapi({ description: "Bytes stored (gzip'd)." }),
    createdAt: z.string(),
    counts: Counts.partial().nullable(),
  })
  .openapi("DirectoryExport");

const ExportList = z
  .object({
    hubId: z.string(),
    role: z.enum(["primary", "standby"]),
    retention: z.object({ days: z.number().int(), keep: z.number().int() }),
    exports: z.array(ExportListing),
  })
  .openapi("DirectoryExportList");

const ExportResult = z
  .object({
    written: z.boolean().openapi({ description: "false: the directory has not changed since the newest export, which is answered instead." }),
    hubId: z.string(),
    key: z.string(),
    root: z.string(),
    contentHash: z.string(),
    createdAt: z.string(),
    counts: Counts,
  })
  .openapi("DirectoryExportResult");

const RestoreBody = z.object({
  key: z.string().openapi({ example: "exports/hub-local/2026-11-21T10:00:00.000Z-0123456789ab.json.gz" }),
  force: z.boolean().optional().openapi({ description: "Standby only: replace a directory that is not empty." }),
});

const RestoreResult = z
  .object({
    key: z.string(),
    hubId: z.string().openapi({ description: "The hub the export came from." }),
    createdAt: z.string(),
    root: z.string(),
    contentHash: z.string(),
    counts: Counts,
    verified: z.boolean().openapi({ description: "true: the restored rows give the export's root hash." }),
  })
  .openapi("DirectoryRestoreResult");

const QueryHub = z.object({ hub: z.string().max(64).optional().openapi({ description: "Only this hub's exports (default: every hub's)." }) });

backups.openapi(
  route("read-only", {
    method: "get",
    path: "/",
    tags: ["Backups and standby"],
    summary: "List directory exports",
    description: "Exports in the BACKUP bucket, newest first (at most 1,000).",
    request: { query: QueryHub },
    responses: { 200: json(ExportList, "The exports"), ...ERRORS },
  }),
  async (c) => {
    const { hub } = c.req.valid("query");
    return c.json(
      {
        hubId: c.env.HUB_ID,
        role: isStandby(c.env) ? ("standby" as const) : ("primary" as const),
        retention: retention(c.env),
        exports: await listExports(c.env.BACKUP, hub),
      },
      200,
    );
  },
);

backups.openapi(
  route("admin", {
    method: "post",
    path: "/",
    tags: ["Backups and standby"],
    summary: "Export the directory now",
    description:
      "Writes a consistent export of domains, recipients, policies and edges to the BACKUP bucket (the cron does this every minute when something changed), then applies the retention.",
    responses: {
      200: json(ExportResult, "The export written, or the newest one if nothing changed"),
      ...ERRORS,
      409: failure("This hub is a standby (`standby`), or the directory is being restored or changed during every read (`busy`): try again"),
      413: failure("The directory is larger than one export holds"),
    },
  }),
  async (c) => {
    if (isStandby(c.env)) throw new ApiError(409, "standby", "A standby does not export: it follows its primary's exports.");
    try {
      const result = await createExport(c.env);
      if (result.written) noteChange(c, `exported the directory (${result.counts.addresses} addresses)`, result.key);
      return c.json(result, 200);
    } catch (err) {
      if (err instanceof ExportTooLargeError) throw new ApiError(413, "too_large", err.message);
      if (err instanceof ExportBusyError) throw new ApiError(409, "busy", err.message);
      throw err;
    }
  },
);

backups.openapi(
  route("admin", {
    method: "post",
    path: "/restore",
    tags: ["Backups and standby"],
    summary: "Restore the directory from an export",
    description:
      "Replaces domains, recipients, policies and edges with the export's. The rows go in a page at a time under a `restoring` state: no EdgeSync round and no export runs until the whole export is in and its counts match, so no edge ever sees a half-restored directory; a restore that fails part way leaves `restoring` set with its error, and the next attempt starts over. The directory must be empty (409 `not_empty`), unless this hub is a standby and `force` is true. The next snapshot gives the export's root hash.",
    request: { body: documentedJson(backups, "DirectoryRestore", RestoreBody, "Which export") },
    responses: { 200: json(RestoreResult, "Restored"), ...ERRORS, 409: failure("Not empty, another DIRECTORY_KEY, or a newer schema") },
  }),
  async (c) => {
    const body = await readJson(c, RestoreBody, { maxBytes: MAX_RESTORE_BODY_BYTES, notJson: 'body must be JSON: {"key": "exports/…"}' });
    if (body.force === true && !isStandby(c.env)) {
      throw new ApiError(409, "not_standby", "force replaces a directory and is only for a standby; on a primary, restore into an empty database");
    }
    // In the sync scheduler's queue: no EdgeSync round runs while the rows are being replaced.
    const answer = await scheduler(c.env).restore(body.key, body.force === true);
    if (!answer.ok) throw new ApiError(answer.status, answer.code, answer.message);
    const result = answer.result;
    noteChange(c, `restored the directory from ${result.key} (${result.counts.addresses} addresses)`, result.key);
    // A primary brings its edges to the restored directory at once; a standby syncs only while its primary is down.
    if (!isStandby(c.env)) requestSync(c.env, c.executionCtx);
    return c.json(result, 200);
  },
);

const StandbyStatus = z
  .object({
    hubId: z.string(),
    role: z.enum(["primary", "standby"]),
    primary: z.record(z.string(), z.unknown()).nullable().openapi({ description: "What the last round saw of the primary." }),
    applied: z.record(z.string(), z.unknown()).nullable().openapi({ description: "The export this hub last restored." }),
    held: z.number().int().openapi({ description: "Messages held for the primary." }),
    handedBack: z.number().int(),
    released: z.number().int(),
  })
  .openapi("StandbyStatus");

backups.openapi(
  route("read-only", {
    method: "get",
    path: "/standby",
    tags: ["Backups and standby"],
    summary: "Standby status",
    description: "This hub's role, what it last saw of its primary, the export it applied, and its held mail.",
    responses: { 200: json(StandbyStatus, "The status"), ...ERRORS },
  }),
  async (c) => c.json(await standbyStatus(c.env), 200),
);

const StandbyReport = z
  .object({
    hubId: z.string(),
    primary: z.record(z.string(), z.unknown()),
    restored: RestoreResult.nullable(),
    handBack: z.object({ handedBack: z.number().int(), duplicates: z.number().int(), failed: z.number().int(), remaining: z.number().int() }).nullable(),
    sync: z.object({ root: z.string().nullable(), edges: z.array(z.object({ id: z.string(), status: z.string() })) }).nullable(),
  })
  .openapi("StandbyReport");

backups.openapi(
  route("operator", {
    method: "post",
    path: "/standby/run",
    tags: ["Backups and standby"],
    summary: "Run a standby round now",
    description:
      "What the standby's cron does every minute: ping the primary; if it is up, apply its newest export and hand held mail back; if it is down, sync the edges.",
    responses: { 200: json(StandbyReport, "What the round did"), ...ERRORS, 409: failure("This hub is not a standby") },
  }),
  async (c) => {
    if (!isStandby(c.env)) throw new ApiError(409, "not_standby", `This hub (${c.env.HUB_ID}) is the primary: HUB_ROLE is not "standby".`);
    const report = await standbyRound(c.env);
    noteChange(c, `ran a standby round: primary ${report.primary.up ? "up" : "down"}`, null);
    return c.json(report, 200);
  },
);

/**
 * Mounts the backup routes and, in front of every admin route, the standby's refusal of directory
 * writes (so it must be called before the directory routes are mounted).
 */
export function mountBackups(app: OpenAPIHono<HubEnv>): void {
  app.use("/api/v1/*", refuseStandbyWrites);
  app.route("/api/v1/backups", backups);
}
