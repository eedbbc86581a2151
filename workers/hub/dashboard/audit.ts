import type { Context } from "hono";
import { insertAudit } from "../auth/audit-log.ts";
import { MAX_AUDIT_SUMMARY_CHARS } from "../auth/limits.ts";
import { maskPath } from "../auth/redact.ts";
import type { DashboardEnv } from "./guard.ts";
import { hubLog } from "../../../shared/log.ts";

/**
 * Records a change made through the dashboard in the same audit log as the admin API's changes:
 * the session's token id, name and role, the form's path, a summary and the object it touched. A
 * failing insert never undoes the change: the entry is written to the log instead.
 */
export async function auditDashboardChange(c: Context<DashboardEnv>, summary: string, objectId: string): Promise<void> {
  const { tid, name, role } = c.var.session;
  const entry = {
    at: new Date().toISOString(),
    actor: { id: tid, name, role, accessIdentity: null },
    method: c.req.method,
    path: maskPath(c.req.path),
    summary: `dashboard: ${summary}`.slice(0, MAX_AUDIT_SUMMARY_CHARS),
    objectId,
    status: 303,
  };
  try {
    await insertAudit(c.env.DB, entry);
  } catch (err) {
    hubLog(c.env.HUB_ID).error("audit_write_failed", { error: String(err), entry });
  }
}
