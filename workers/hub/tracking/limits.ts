/** Limits of message tracking at the hub. */

/** The queue the edges send tracking events to; the hub's queue() handler dispatches on it. */
export const TRACKING_QUEUE = "portcullis-tracking";

/** Retention when TRACKING_RETENTION_DAYS is unset or not a positive integer. */
export const TRACKING_DEFAULT_RETENTION_DAYS = 30;

/**
 * Rows one retention statement deletes. Small enough that a statement stays far from D1's 30 s
 * per query and does not hold the database while ingest waits; the cron runs every minute.
 */
export const TRACKING_PRUNE_CHUNK = 500;

/** Chunks per cron run: bounds one run's work (up to 10,000 events a minute, far above what the edges record). */
export const TRACKING_PRUNE_MAX_CHUNKS = 20;

/** Longest free text in an event (SMTP reply, detail, agent notes): a queue message is at most 128 KB. */
export const TRACKING_MAX_TEXT = 2048;

/** Recipients one event may carry (the edge sees one per email invocation; room for more). */
export const TRACKING_MAX_RECIPIENTS = 100;

/** Agent results one event may carry (the pipeline has a dozen agents). */
export const TRACKING_MAX_AGENTS = 64;

/** Attempts one round may carry (one per configured hub). */
export const TRACKING_MAX_ATTEMPTS = 64;

/** Events one trace (GET /api/v1/tracking/{deliveryId}) returns at most: a message spooled for two days has about 60. */
export const TRACKING_MAX_TRACE = 1000;

/** Buckets one mail flow query may return (a week in 10-minute buckets is 1,008). */
export const TRACKING_MAX_FLOW_BUCKETS = 2016;
