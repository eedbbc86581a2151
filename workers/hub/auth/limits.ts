/** Limits of the admin API's authentication and audit log, hub only. */

/** Random bytes in an API token: 256 bits, so a plain SHA-256 of it is safe to store (nothing to brute-force). */
export const TOKEN_RANDOM_BYTES = 32;

/**
 * How often a token's last-used time is written at most (ms). Every API request authenticates;
 * writing D1 on each would double the cost of a read and serialise busy clients on one row.
 */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;

/** Longest token name (characters): a label for people, shown in lists and the audit log. */
export const MAX_TOKEN_NAME_CHARS = 100;

/** Largest token-creation body (bytes): a name, a role and a date; anything far bigger is not one. */
export const MAX_TOKEN_BODY_BYTES = 4 * 1024;

/** Longest audit summary (characters): one line for people, not a copy of the request. */
export const MAX_AUDIT_SUMMARY_CHARS = 300;

/** How long Cloudflare Access signing keys are used before they are fetched again (ms). Access rotates keys every few weeks and publishes the next one early. */
export const ACCESS_KEYS_TTL_MS = 10 * 60_000;

/**
 * Least time between two fetches of the Access keys (ms). A token naming an unknown key id makes
 * the hub fetch the keys again (a rotation it has not seen); forged tokens must not turn that into
 * a fetch per request.
 */
export const ACCESS_KEYS_MIN_REFRESH_MS = 30_000;

/** How long fetching the Access keys may take (ms) before the request is refused as unverifiable. */
export const ACCESS_KEYS_FETCH_TIMEOUT_MS = 5_000;

/** Largest Access keys document read (bytes): a handful of RSA keys is a few KiB. */
export const MAX_ACCESS_KEYS_BYTES = 64 * 1024;

/** Longest Access JWT looked at (characters): real ones are 1–2 KiB; a longer header is refused before any parsing. */
export const MAX_ACCESS_JWT_CHARS = 16 * 1024;
