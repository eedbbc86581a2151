/**
 * Limits of the quarantine and feedback paths, hub only. The preview is read by a person in a
 * browser or a terminal, from a message a filter found suspicious; the feedback rebuild runs
 * inside one admin request.
 */

/**
 * Bytes of the raw header block a preview shows. Real header blocks are a few KiB; a hostile one
 * may be up to the edge's 1 MiB limit, which nobody reads and an admin page should not carry.
 */
export const PREVIEW_HEADER_MAX_BYTES = 16 * 1024;

/** Characters of body text a preview shows: enough to judge a message, not a copy of a huge one. */
export const PREVIEW_TEXT_MAX_CHARS = 32 * 1024;

/**
 * Characters of an HTML body turned into text for a preview. The scan is one linear pass over at
 * most this much (as the content filter's, CONTENT_HTML_SCAN_MAX_CHARS), so a megabyte of tags
 * costs no more than this.
 */
export const PREVIEW_HTML_SCAN_MAX_CHARS = 256 * 1024;

/** Attachments a preview lists (names, types and sizes only); a message with thousands says so instead. */
export const PREVIEW_MAX_ATTACHMENTS = 100;

/** Addresses a preview lists per header (To, Cc): a message "to" ten thousand people says so in its header block. */
export const PREVIEW_MAX_ADDRESSES = 100;

/** Links of an HTML body a preview lists as text (where they go and what they show). */
export const PREVIEW_MAX_LINKS = 50;

/** Characters of a file name, a link or its text in a preview: names are the sender's text, of any length. */
export const PREVIEW_NAME_MAX_CHARS = 300;

/**
 * Token hashes from reports the rebuilt model takes on top of the shipped base model (about
 * 12,500 tokens). Each costs about five bytes of the `content-model` policy, which every edge
 * isolate decodes once: 50,000 keep the policy near 300 KB (about 410 KB of base64) and the
 * rebuild's one D1 read bounded. Past it, tokens found in more reports are kept first, then the
 * most recently reported.
 */
export const FEEDBACK_MODEL_MAX_TOKENS = 50_000;

/**
 * Standing (not withdrawn) reports. Each stores up to CONTENT_MAX_TOKENS (5,000) token hashes as
 * JSON (about 55 KB); the cap bounds that storage and the size of the token table the rebuild
 * reads from. Withdraw old reports to make room.
 */
export const FEEDBACK_MAX_REPORTS = 5_000;

/** Characters kept of who made a change (the audit columns): a token's name, not an essay. */
export const ACTOR_MAX_CHARS = 100;

/** Bytes of a report's body: `{"verdict":"spam"}` is 18; anything far bigger is not a report. */
export const REPORT_BODY_MAX_BYTES = 1024;
