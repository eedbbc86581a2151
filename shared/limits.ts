/**
 * Every limit Portcullis enforces, in one place, each with the attack or failure it defends against.
 * Change a value here and every worker, the CLI and the tests follow.
 */

/**
 * Largest message accepted (bytes). Cloudflare Email Routing refuses anything bigger before the
 * worker runs, so a larger message can only arrive through a bug or a forged call; refusing it
 * early bounds memory (the raw bytes are buffered once) inside the 128 MB isolate limit.
 */
export const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;

/**
 * Deepest multipart / message nesting the parser will follow. Real mail rarely exceeds 5 levels;
 * a crafted "MIME bomb" nests thousands deep to exhaust the stack or CPU.
 */
export const MAX_MIME_NESTING_DEPTH = 32;

/**
 * Total header bytes across all parts. Real headers are a few KiB (a long Received chain maybe
 * 30 KiB); a multi-megabyte header block is an attack on header parsing and on every agent that
 * scans headers.
 */
export const MAX_HEADERS_BYTES = 1024 * 1024;

/**
 * Inline message/rfc822 parsing depth. Each level spawns a nested parser that keeps the whole
 * nested message; deeper parts are kept as attachments instead of being parsed.
 */
export const MAX_RFC822_NESTING_DEPTH = 5;

/**
 * Envelope recipients in one transaction. Email Routing hands the worker one recipient per
 * invocation; other entry points (relay, CLI) are bounded the same way as a Postfix
 * smtpd_recipient_limit, so one message cannot fan out without bound.
 */
export const MAX_RECIPIENTS = 100;

/** Longest address accepted in the envelope (RFC 5321 §4.5.3.1.3: a path is at most 256 octets). */
export const MAX_ADDRESS_LENGTH = 256;

/**
 * Isolate-wide cache of directory blobs (bytes). Shards are immutable and content-addressed, so
 * caching them is always correct, but the cache shares the 128 MB isolate with a message of up
 * to 25 MiB being parsed.
 */
export const DIRECTORY_CACHE_MAX_BYTES = 32 * 1024 * 1024;

/**
 * How long an isolate trusts the current-version pointer it read from the Durable Object before
 * asking again. Bounds how stale an edge's view can be after a commit, and keeps the Durable
 * Object off the per-message path under load.
 */
export const DIRECTORY_POINTER_TTL_MS = 2_000;

/** Largest page an admin list endpoint returns, so one request cannot pull a whole table. */
export const MAX_PAGE_SIZE = 500;

/** Default page size for admin list endpoints. */
export const DEFAULT_PAGE_SIZE = 50;

/**
 * Longest any single agent may take. A stuck lookup must not hold the message until the email
 * handler is cancelled; the agent's failMode decides what a time-out means.
 */
export const AGENT_TIMEOUT_MS = 5_000;

/**
 * Bound parameters D1 accepts in one statement. Multi-row INSERTs and IN lists are sized to stay
 * within it; a statement over it is refused by D1 and would fail the whole batch it is in.
 */
export const D1_MAX_BOUND_PARAMETERS = 100;

/**
 * Largest JSON body a recipients import accepts (bytes). JSON is parsed whole, and the parsed
 * objects take several times the bytes, inside the 128 MB isolate; bigger imports use the
 * streamed CSV format, which has no body limit.
 */
export const MAX_IMPORT_JSON_BYTES = 4 * 1024 * 1024;

/**
 * Most data rows in one recipients import. Each batch of IMPORT_BATCH_ADDRESSES addresses costs
 * two D1 round trips, and a Worker invocation may make at most 1,000 queries to D1; the cap also
 * keeps one request well within the wall-clock a client will wait for its answer.
 */
export const MAX_IMPORT_ROWS = 200_000;

/**
 * Longest CSV record in a recipients import (characters, quoted line breaks included). Enough for
 * an address with MAX_ALIASES_PER_RECIPIENT long aliases; without it an unterminated quote would
 * pull the rest of a streamed body into one field.
 */
export const MAX_IMPORT_RECORD_CHARS = 64 * 1024;

/** Aliases one recipient may have, so one row cannot turn into an unbounded number of writes. */
export const MAX_ALIASES_PER_RECIPIENT = 100;

/**
 * Addresses (primary addresses and aliases) of a recipients import read and written per D1 batch,
 * which is one transaction. Bounds the memory an import holds and how long each transaction
 * blocks other writers, while keeping the round trips of a MAX_IMPORT_ROWS import well within the
 * per-invocation query limit.
 */
export const IMPORT_BATCH_ADDRESSES = 2_000;

/**
 * Row errors an import answers with. A file with a wrong column can fail every one of its rows;
 * the answer lists the first ones and says it was cut instead of growing with the file.
 */
export const MAX_IMPORT_ERRORS = 1_000;

/**
 * Characters of a message's decoded text the content filter tokenises. Spam says what it sells
 * near the top; past this, more words barely move the score, while tokenising a multi-megabyte
 * body would cost more than parsing it.
 */
export const CONTENT_TEXT_SCAN_MAX_CHARS = 64 * 1024;

/**
 * Characters of an HTML body the content filter scans for tags and links. Markup is several times
 * the size of the text it carries, hence more than the text limit; the scan is one forward pass.
 */
export const CONTENT_HTML_SCAN_MAX_CHARS = 256 * 1024;

/**
 * Distinct tokens the content filter takes from one message. Bounds the model look-ups per
 * message however the text is crafted (e.g. a body of random unique words).
 */
export const CONTENT_MAX_TOKENS = 5_000;

/**
 * Bytes of a text attachment searched for the GTUBE test string. Text attachments are decoded
 * only for this search, never tokenised.
 */
export const GTUBE_ATTACHMENT_SCAN_BYTES = 1024 * 1024;

/**
 * Largest PDF attachment whose text is extracted to look for GTUBE. Bigger PDFs are not opened:
 * extraction inflates streams, which must stay cheap next to parsing.
 */
export const GTUBE_PDF_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Total bytes inflated from one PDF's streams, and streams read, while looking for GTUBE. A
 * deflate stream expands up to ~1000×: without the cap a small PDF could inflate gigabytes
 * inside the 128 MB isolate.
 */
export const GTUBE_PDF_MAX_INFLATED_BYTES = 4 * 1024 * 1024;
export const GTUBE_PDF_MAX_STREAMS = 256;

/**
 * PNG images of one message read for a GTUBE drawn as text (hygiene/content/ocr/): a page of
 * text costs ~10–30 ms to read, so a message of a hundred screenshots must not cost seconds.
 */
export const OCR_MAX_IMAGES = 4;

/**
 * Largest PNG attachment read for a GTUBE drawn as text (hygiene/content/ocr/). Text rendered to an
 * image compresses well (an A4 page of it at 425 dpi is 57 KB); bigger files are photographs,
 * and inflating one costs CPU in proportion to its size.
 */
export const OCR_MAX_PNG_BYTES = 4 * 1024 * 1024;

/**
 * Most pixels, and widest row, of an image read for GTUBE. Rows are streamed (two scanlines
 * held), so this bounds the CPU spent inflating and scanning, not memory: 40 million is an A4
 * page at 600 dpi.
 */
export const OCR_MAX_PIXELS = 40_000_000;
export const OCR_MAX_WIDTH = 16_384;

/**
 * Most bytes of decompressed scanlines read from one image: 1-bit pages are 1/8 byte a pixel,
 * true colour with alpha 4, so this stops a 40-megapixel RGBA image from costing 160 MB of
 * inflation. 12 MiB holds a 1920×1080 RGBA screenshot (8 MB, ~40–80 ms to inflate and read) or
 * an A4 page scanned at 300 dpi in grey.
 */
export const OCR_MAX_SCANLINE_BYTES = 12 * 1024 * 1024;

/**
 * Compressed bytes per pixel past which a PNG is not read for text: photographs and noisy scans
 * compress to 1–3 bytes a pixel, print on a clean page to a fraction of that (sa-gtube_png.eml's
 * 0.003; an anti-aliased RGBA screenshot of text about 0.1). Judged before inflating anything, so
 * a photograph costs nothing.
 */
export const OCR_MAX_BYTES_PER_PIXEL = 0.75;

/**
 * A band of rows with ink taller than this, or with more ink runs, or more blobs, is a picture
 * or a page of noise, not a line of text, and is skipped: these bound the memory and the
 * connected-blob search of one line. 512 rows is 60-point type at 600 dpi.
 */
export const OCR_MAX_LINE_ROWS = 512;
export const OCR_MAX_LINE_RUNS = 200_000;
export const OCR_MAX_LINE_GLYPHS = 2_000;

/**
 * Glyphs read per image before the search gives up. Each starts a run of glyphs that is tested
 * against the string (most runs fail on their first pair), so this bounds the work on a page of
 * dense text: 20,000 glyphs is about ten pages.
 */
export const OCR_MAX_GLYPHS = 20_000;

/**
 * Glyph comparisons per image (each up to ~1 µs). Ordinary text costs a few per glyph; a run that
 * repeats as the string does costs up to ~2,300 more. A page of one glyph repeated, or of glyphs
 * built to pass the first tests, would otherwise cost seconds.
 */
export const OCR_MAX_COMPARISONS = 100_000;

/**
 * Most MIME parts one message may have. The parser builds a node per part: 100,000 empty parts
 * cost ~170 MB of heap, past the 128 MB isolate limit. Real mail has a handful, a big newsletter
 * or digest a few hundred.
 */
export const MAX_MIME_PARTS = 2_000;

/** Distinct multipart boundaries considered when counting parts; more is itself hostile structure. */
export const MAX_MIME_BOUNDARIES = 64;

/**
 * How long one DNS-over-HTTPS question may take. A slow or black-holed resolver must not hold a
 * message: SPF alone may ask ten questions in a row, all inside AGENT_TIMEOUT_MS. A lookup that
 * runs out of time is a DNS error (temperror), never "no such name".
 */
export const DNS_QUERY_TIMEOUT_MS = 1_000;

/**
 * Answers the isolate-wide DNS cache holds. Mail from the same senders repeats the same SPF,
 * DKIM and DMARC questions, so a warm cache saves most subrequests; the cap bounds its memory
 * (an answer is a few hundred bytes) when a flood of distinct names would otherwise fill it.
 */
export const DNS_CACHE_MAX_ENTRIES = 5_000;

/**
 * Longest a DNS answer is cached (seconds), whatever its TTL says. Isolates can live for hours; a
 * revoked DKIM key or a tightened DMARC policy must not be ignored for the day-long TTLs some
 * zones publish.
 */
export const DNS_CACHE_MAX_TTL_SECONDS = 3_600;

/**
 * Longest "no such name / no such record" is cached (seconds), and how long when the answer
 * carries no SOA to take it from (RFC 2308). Short, so a record published a moment ago (a new
 * DKIM selector) is seen soon, while a flood of questions for a missing name is still absorbed.
 */
export const DNS_NEGATIVE_CACHE_MAX_TTL_SECONDS = 300;
export const DNS_NEGATIVE_CACHE_DEFAULT_TTL_SECONDS = 60;

/**
 * Largest DNS-over-HTTPS response body read (bytes). A DNS message is at most 64 KiB, which its
 * JSON form (quoting, field names) keeps well under this; a bigger body is not a DNS answer and
 * is refused while it is read, before it is buffered and parsed.
 */
export const MAX_DOH_RESPONSE_BYTES = 256 * 1024;

/**
 * DKIM-Signature fields verified per message. Each costs a key lookup and a signature check, and
 * each distinct canonicalisation or l= value a pass over the whole body: without a cap a message
 * with hundreds of signatures multiplies CPU and DNS work. Real mail carries one to three.
 */
export const MAX_DKIM_SIGNATURES = 8;

/**
 * DNS questions the authentication agent may ask for one message (SPF, DKIM and ARC keys, DMARC
 * policy walks together; repeated questions are answered once). SPF's own limits — 10 lookups,
 * 2 void lookups (RFC 7208 §4.6.4) — are mailauth's; this cap bounds the total so one crafted
 * message cannot spend the invocation's subrequests (50 on the Free plan). Past it, lookups fail
 * as temperror.
 */
export const MAX_AUTH_DNS_LOOKUPS = 40;

/**
 * Time the authentication agent gives DNS for one message. Past it every further lookup fails at
 * once (temperror), so the agent still returns the results it has within AGENT_TIMEOUT_MS
 * instead of being cut off by the pipeline with none.
 */
export const AUTH_DNS_BUDGET_MS = 3_500;

/**
 * Containers the attachment checks open inside one another: archives, compressed files,
 * uuencoded blocks and attached messages (a zip inside a zip inside a forwarded message is 3).
 * Every level costs a decompression or a parse; "42.zip"-style bombs and forwarding loops nest
 * deeply to multiply that cost. Deeper content cannot be inspected, so the message is refused.
 */
export const MAX_ARCHIVE_DEPTH = 5;

/**
 * Files across every archive of one message. Reading a name costs little, but a crafted archive
 * lists hundreds of thousands of entries to exhaust CPU (and the recipient's unpacker); past the
 * limit the message is refused, since what is not listed cannot be checked.
 */
export const MAX_ARCHIVE_ENTRIES = 10_000;

/**
 * Sum of the sizes archive members declare, across one message (bytes). A 25 MiB message that
 * unpacks to more than this is a decompression bomb aimed at the recipient's disk or scanner,
 * whether or not the gateway ever expands it.
 */
export const MAX_ARCHIVE_EXPANDED_BYTES = 1024 * 1024 * 1024;

/**
 * Bytes the gateway itself decompresses for one message: the heads of archive members and the
 * whole of nested archives. Bounds CPU and memory inside the 128 MB isolate, which also holds the
 * message; an archive that needs more to be inspected is refused.
 */
export const MAX_ARCHIVE_INFLATE_BYTES = 64 * 1024 * 1024;

/**
 * Highest expanded : compressed ratio of an archive member at least ARCHIVE_RATIO_MIN_BYTES big.
 * Text compresses about 10:1 and little real data beats 100:1; DEFLATE reaches 1032:1 only on
 * runs of one byte, the material of zip bombs.
 */
export const MAX_ARCHIVE_COMPRESSION_RATIO = 100;

/** Smallest expanded size the ratio check applies to: a few KiB of zeros compress 1000:1 and harm no one. */
export const ARCHIVE_RATIO_MIN_BYTES = 1024 * 1024;

/**
 * Bytes read from the start of every attachment and archive member to tell its true type (magic
 * numbers sit in the first bytes) and to spot the EICAR test file (at most 128 bytes). Fixed, so
 * checking a 20 MB attachment costs what checking a 20 KB one does.
 */
export const ATTACHMENT_HEAD_BYTES = 4096;

/**
 * Bytes read at each end of a PDF for /Encrypt, /JavaScript and /OpenAction: the trailer and,
 * usually, the catalog sit at the end, linearized files put them at the start. Scanning a whole
 * PDF would cost time in proportion to its size.
 */
export const PDF_SCAN_BYTES = 16 * 1024;

/**
 * Directory entries read from an OLE2 (legacy Office, MSI) file to find macro streams. Real
 * documents have tens; the bound stops a crafted, looping or huge directory from costing more.
 */
export const MAX_OLE2_DIRECTORY_ENTRIES = 4096;

/**
 * Most header fields in a message's top-level header block. Real mail has a few dozen (a long
 * Received chain maybe a hundred); tens of thousands of tiny fields stay under MAX_HEADERS_BYTES
 * yet make every agent that walks the headers do work per field.
 */
export const MAX_HEADER_FIELDS = 1_000;
