/** The dashboard's limits, each with what it defends against. */

/**
 * How long a dashboard session lasts. Sessions are stateless signed cookies, so this is also the
 * longest a stolen cookie stays useful: a working day, then the token is asked for again.
 */
export const SESSION_TTL_SECONDS = 8 * 60 * 60;

/** How long a login form stays valid: bounds how long a page left open can be replayed into a login. */
export const LOGIN_FORM_TTL_SECONDS = 15 * 60;

/** Longest token the login form takes; anything longer is not a token and is not hashed or compared. */
export const MAX_TOKEN_CHARS = 512;

/** Longest value of any search or reason field: a form cannot make a query or a tombstone grow without bound. */
export const MAX_FIELD_CHARS = 500;

/** How long a page waits for each edge's live answer; a slower edge is shown as not answering. */
export const EDGE_TIMEOUT_MS = 5_000;

/** Rows a list shows per page, so one page stays one bounded D1 query and one bounded document. */
export const PAGE_ROWS = 50;

/** Recipients a search lists. */
export const RECIPIENT_RESULTS = 25;

/** Addresses of one recipient (primary and aliases) asked of each edge: bounds the fan-out of one page view. */
export const LOOKUP_ADDRESSES = 10;

/** Largest form body a POST may carry: the dashboard's forms hold a token, a reason or a search, never more. */
export const MAX_FORM_BYTES = 16 * 1024;
