/** Limits and names of the directory exports and the standby hub (see docs/operations.md#standby-hub). */

/**
 * Version of the export document's shape. 2: gzip'd lines of JSON (a header, the small tables,
 * pages of recipients and addresses, and an end line with the root hash). 1: one JSON document;
 * still restored.
 */
export const EXPORT_FORMAT = 2;

/** The last migration whose tables an export covers (0008): a restore refuses exports from a newer schema. */
export const EXPORT_SCHEMA = 8;

/**
 * Address rows one export may hold. Exports and restores are read, written and verified page by
 * page, so memory does not grow with the directory; this bounds how long one export or restore
 * runs (and its D1 reads and writes), not memory: ten times the largest directory expected.
 */
export const EXPORT_MAX_ADDRESSES = 10_000_000;

/** Rows per keyset page an export reads (and per line it writes), and per chunk a restore inserts. */
export const EXPORT_PAGE_ROWS = 2_000;

/**
 * Bytes per part of an export's multipart upload to R2: R2's minimum (5 MiB; every part but the
 * last the same size). An export holds at most about two parts in memory.
 */
export const EXPORT_PART_BYTES = 5 * 1024 * 1024;

/** Reads of an export whose marker moved during the read (a change between pages) before it gives up for this run. */
export const EXPORT_READ_ATTEMPTS = 3;

/** Longest line of an export a restore decompresses (a format 1 export is one line): bounds memory against a corrupt or hostile object. */
export const EXPORT_MAX_JSON_BYTES = 64 * 1024 * 1024;

/** Defaults of BACKUP_RETENTION_DAYS and BACKUP_KEEP when a deployment does not set them. */
export const DEFAULT_RETENTION_DAYS = 30;
export const DEFAULT_KEEP = 10;

/** Exports one listing answers at most (newest first); older ones are still in R2. */
export const EXPORT_LIST_MAX = 1000;

/**
 * How long a standby waits for its primary's ping before counting it down. Short: the cron runs
 * every minute and a slow primary is not one the standby should wait on, yet a ping over a service
 * binding normally answers within milliseconds.
 */
export const PRIMARY_PING_TIMEOUT_MS = 5_000;

/** Held messages handed back to the primary per standby round; the rest go in the next rounds. */
export const HANDBACK_MAX_PER_ROUND = 500;

/** Hand-backs in flight at once (a Worker has 6 outgoing connections; leave room for the rest). */
export const HANDBACK_CONCURRENCY = 4;

/** Longest one hand-back may take before it counts as failed (the primary may have died again). */
export const HANDBACK_TIMEOUT_MS = 30_000;

/** Held messages a promoted standby releases to onward routing per cron run. */
export const RELEASE_MAX_PER_ROUND = 500;

/** R2 key prefix of one hub's exports, and of the pointer to its newest. */
export const exportPrefix = (hubId: string): string => `exports/${hubId}/`;
export const latestKey = (hubId: string): string => `latest/${hubId}.json`;
