import { z } from "@hono/zod-openapi";
import type { SyncReport } from "../sync/sync-edges.ts";
import { scheduler } from "../sync/trigger.ts";
import { noteChange } from "./audit.ts";
import { ApiError } from "./errors.ts";
import { ERRORS, failure, json, route, router } from "./openapi.ts";
import { hubLog } from "../../../shared/log.ts";

export const sync = router();

const SyncReportSchema = z
  .object({
    hubId: z.string(),
    root: z.string().nullable().openapi({ description: "The root hash pushed; null when no edge is registered." }),
    snapshot: z.object({ kind: z.string(), recipients: z.number().int(), overlayEntries: z.number().int(), throughSeq: z.number().int() }).optional(),
    edges: z.array(
      z.object({
        id: z.string(),
        status: z
          .enum(["committed", "unchanged", "busy", "failed"])
          .openapi({ description: "busy: another hub holds the edge's lease; retried at the next tick." }),
        edgeId: z.string(),
        root: z.string().optional(),
        version: z.number().int().optional(),
        blobsWritten: z.number().int().optional(),
        bytesWritten: z.number().int().optional(),
        holder: z.string().optional(),
        expiresAt: z.number().optional(),
        error: z.string().optional(),
      }),
    ),
  })
  .openapi("SyncReport");

sync.openapi(
  route("operator", {
    method: "post",
    path: "/",
    tags: ["Edges and sync"],
    summary: "Run an EdgeSync round now",
    description: "Builds the snapshot if D1 changed and pushes it to every edge; answers with each edge's outcome.",
    responses: { 200: json(SyncReportSchema, "Each edge's outcome"), ...ERRORS, 500: failure("The round failed") },
  }),
  async (c) => {
    let report: SyncReport | { hubId: string; root: null; edges: [] };
    try {
      report = (await scheduler(c.env).runNow()) as SyncReport | { hubId: string; root: null; edges: [] };
    } catch (err) {
      hubLog(c.env.HUB_ID).error("sync_failed", { error: String(err) });
      throw new ApiError(500, "sync_failed", `The sync round failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    noteChange(c, `ran a sync round: ${report.edges.map((e) => `${e.id} ${e.status}`).join(", ") || "no edges"}`, report.root);
    return c.json(report, 200);
  },
);
