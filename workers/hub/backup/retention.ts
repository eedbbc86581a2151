import { DEFAULT_KEEP, DEFAULT_RETENTION_DAYS, EXPORT_LIST_MAX, exportPrefix } from "./limits.ts";

/** One stored export as a listing shows it. */
export interface ExportListing {
  key: string;
  hubId: string;
  root: string | null;
  contentHash: string | null;
  schema: number | null;
  size: number;
  /** When the export was taken (its createdAt); R2's upload time for objects without one. */
  createdAt: string;
  counts: Record<string, number> | null;
}

/** A BACKUP_RETENTION_DAYS / BACKUP_KEEP value: a whole number ≥ min, or the default when unset. */
function setting(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number ≥ ${min}, not ${JSON.stringify(raw)}`);
  return n;
}

/** The retention settings of this deployment (vars BACKUP_RETENTION_DAYS, BACKUP_KEEP). */
export function retention(env: Env): { days: number; keep: number } {
  // At least one export is always kept: a retention that could delete the last one is refused.
  return {
    days: setting("BACKUP_RETENTION_DAYS", env.BACKUP_RETENTION_DAYS, DEFAULT_RETENTION_DAYS, 0),
    keep: setting("BACKUP_KEEP", env.BACKUP_KEEP, DEFAULT_KEEP, 1),
  };
}

/** Keys one R2 `delete()` call takes at most. */
const R2_DELETE_MAX = 1000;

const isExport = (key: string): boolean => key.endsWith(".json.gz");

/** Every export under a prefix, newest first (keys sort by time). */
async function allExports(bucket: R2Bucket, prefix: string): Promise<R2Object[]> {
  const objects: R2Object[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, include: ["customMetadata"] });
    objects.push(...page.objects.filter((o) => isExport(o.key)));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return objects.sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
}

/** When an export was taken: its createdAt metadata (tests and restores may write past times), else its upload time. */
function takenAt(o: R2Object): Date {
  const at = Date.parse(o.customMetadata?.createdAt ?? "");
  return Number.isNaN(at) ? o.uploaded : new Date(at);
}

const toListing = (o: R2Object): ExportListing => {
  const meta = o.customMetadata ?? {};
  let counts: Record<string, number> | null;
  try {
    counts = meta.counts === undefined ? null : (JSON.parse(meta.counts) as Record<string, number>);
  } catch {
    counts = null;
  }
  return {
    key: o.key,
    hubId: meta.hubId ?? o.key.split("/")[1] ?? "",
    root: meta.root ?? null,
    contentHash: meta.contentHash ?? null,
    schema: meta.schema === undefined ? null : Number(meta.schema),
    size: o.size,
    createdAt: takenAt(o).toISOString(),
    counts,
  };
};

/** Exports in BACKUP, newest first, at most EXPORT_LIST_MAX: one hub's, or every hub's. */
export async function listExports(bucket: R2Bucket, hubId?: string): Promise<ExportListing[]> {
  const objects = await allExports(bucket, hubId === undefined ? "exports/" : exportPrefix(hubId));
  return objects.slice(0, EXPORT_LIST_MAX).map(toListing);
}

/**
 * Deletes this hub's exports older than BACKUP_RETENTION_DAYS, always keeping the newest
 * BACKUP_KEEP however old (a hub whose directory has not changed for months still has its last
 * export). Returns the keys deleted.
 */
export async function pruneExports(env: Env, now = new Date()): Promise<string[]> {
  const { days, keep } = retention(env);
  const cutoff = now.getTime() - days * 86_400_000;
  const objects = await allExports(env.BACKUP, exportPrefix(env.HUB_ID));
  const doomed = objects
    .slice(keep)
    .filter((o) => takenAt(o).getTime() < cutoff)
    .map((o) => o.key);
  // R2 deletes at most R2_DELETE_MAX keys per call.
  for (let i = 0; i < doomed.length; i += R2_DELETE_MAX) await env.BACKUP.delete(doomed.slice(i, i + R2_DELETE_MAX));
  return doomed;
}
