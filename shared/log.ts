import type { AgentOutcome } from "./hygiene/types.ts";
import { normaliseAddress } from "./directory/address.ts";
import { DirectoryKey, toHex } from "./directory/hash.ts";

/**
 * Structured logs: every line is one JSON object with the same leading fields, so a log search
 * (Workers Logs, Logpush, `wrangler tail`) can filter on them without knowing the event:
 *
 *   {"ts", "level", "event", "worker", "edgeId" | "hubId", "messageId", "deliveryId", …the event's fields}
 *
 * `messageId` (the Message-ID header) and `deliveryId` (the edge's id for one hand-over, reused on
 * every retry) are always present, null when the event has none, so one message can be followed
 * from its decision through every delivery attempt and spool round.
 *
 * Addresses never reach a log line in clear. Fields that name an address carry its keyed hash
 * ({@link AddressHasher}); and as a safety net every string value is scrubbed of anything shaped
 * like an address (an error text quoting a recipient, an agent's note), except the Message-ID
 * fields, which are identifiers, not mailboxes.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

/** Which worker writes: an edge (by its EDGE_ID) or a hub (by its HUB_ID). */
export interface LogOrigin {
  worker: "edge" | "hub";
  id: string;
}

/** What every line of one message's story carries. */
export interface LogContext {
  messageId?: string | null;
  deliveryId?: string | null;
}

/** Where lines go: the console in the Workers runtime (its method sets the level in Workers Logs). */
export type LogSink = Pick<Console, "debug" | "log" | "warn" | "error">;

/** Fields a caller cannot override: the fixed head of every line. */
const FIXED = new Set(["ts", "level", "event", "worker", "edgeId", "hubId", "messageId", "deliveryId"]);

/**
 * Anything shaped like `local@domain.tld`. Deliberately broad: a false positive costs a redacted
 * word in a log line, a false negative an address in clear.
 */
const ADDRESS_LIKE = /[^\s<>()[\]"',;:@]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;

/** What an address found in free text is replaced with. */
export const REDACTED_ADDRESS = "[address]";

/**
 * How deep the scrubber walks nested fields. Log fields are flat or one level of small objects
 * (agent results, attempts); a deeper value is cut rather than walked without bound.
 */
const MAX_FIELD_DEPTH = 4;

/** Field names whose value is a Message-ID (kept as it is: an identifier, not a mailbox). */
const isMessageIdField = (name: string): boolean => /messageid$/i.test(name);

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === "string") return value.replace(ADDRESS_LIKE, REDACTED_ADDRESS);
  if (value instanceof Error) return scrub(`${value.name}: ${value.message}`, depth);
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_FIELD_DEPTH) return "[nested]";
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isMessageIdField(k) && typeof v === "string" ? v : scrub(v, depth + 1);
  return out;
}

/**
 * One log line as a string, in the fixed shape. Exported for tests; workers use {@link Logger}.
 *
 * @example
 * formatLogLine({ worker: "edge", id: "edge-1" }, "info", "spool", { deliveryId: "9690…" }, { outcome: "retry" })
 * // {"ts":"2026-…","level":"info","event":"spool","worker":"edge","edgeId":"edge-1","messageId":null,"deliveryId":"9690…","outcome":"retry"}
 */
export function formatLogLine(origin: LogOrigin, level: LogLevel, event: string, context: LogContext, fields: Record<string, unknown> = {}): string {
  const line: Record<string, unknown> = {
    ts: new Date().toISOString(),
    level,
    event,
    worker: origin.worker,
    [origin.worker === "edge" ? "edgeId" : "hubId"]: origin.id,
    messageId: (fields.messageId as string | null | undefined) ?? context.messageId ?? null,
    deliveryId: (fields.deliveryId as string | null | undefined) ?? context.deliveryId ?? null,
  };
  for (const [k, v] of Object.entries(fields)) {
    if (FIXED.has(k) || v === undefined) continue;
    line[k] = isMessageIdField(k) && typeof v === "string" ? v : scrub(v, 0);
  }
  return JSON.stringify(line);
}

/**
 * Writes structured log lines for one worker, optionally about one message.
 *
 * @example
 * const log = new Logger({ worker: "edge", id: env.EDGE_ID }).with({ messageId, deliveryId });
 * log.info("delivery_attempt", { hub: "hub-a", outcome: "ok", ms: 41, attempt: 1 });
 */
export class Logger {
  readonly #origin: LogOrigin;
  readonly #context: LogContext;
  readonly #sink: LogSink;

  constructor(origin: LogOrigin, context: LogContext = {}, sink: LogSink = console) {
    this.#origin = origin;
    this.#context = context;
    this.#sink = sink;
  }

  /** The same logger, with a message's ids on every line. */
  with(context: LogContext): Logger {
    return new Logger(this.#origin, { ...this.#context, ...context }, this.#sink);
  }

  debug(event: string, fields?: Record<string, unknown>): void {
    this.#sink.debug(formatLogLine(this.#origin, "debug", event, this.#context, fields));
  }

  info(event: string, fields?: Record<string, unknown>): void {
    this.#sink.log(formatLogLine(this.#origin, "info", event, this.#context, fields));
  }

  warn(event: string, fields?: Record<string, unknown>): void {
    this.#sink.warn(formatLogLine(this.#origin, "warn", event, this.#context, fields));
  }

  error(event: string, fields?: Record<string, unknown>): void {
    this.#sink.error(formatLogLine(this.#origin, "error", event, this.#context, fields));
  }
}

/** An edge's logger. */
export const edgeLog = (edgeId: string, context?: LogContext): Logger => new Logger({ worker: "edge", id: String(edgeId) }, context);

/** A hub's logger. */
export const hubLog = (hubId: string, context?: LogContext): Logger => new Logger({ worker: "hub", id: String(hubId) }, context);

/**
 * The agents' outcomes as a log line carries them: each agent's result, and the reason code of a
 * non-pass. Agents' free-text details stay in message tracking (D1), which operators reach with a
 * token; a log line is read more widely.
 */
export function agentSummary(agents: AgentOutcome[]): { agent: string; result: AgentOutcome["result"]; reason?: string }[] {
  return agents.map((a) => (a.result === "pass" ? { agent: a.agent, result: a.result } : { agent: a.agent, result: a.result, reason: a.reason }));
}

/** Hex digits of an address hash in a log line: 64 bits, enough that two addresses seen in one log retention never collide in practice. */
export const LOG_HASH_HEX_DIGITS = 16;

/**
 * What goes before the address in the keyed hash. The NUL cannot occur in a normalised address,
 * so a log hash never equals the directory's hash of any address (the recipient shards in an
 * edge's KV use the same key without a prefix).
 */
export const LOG_HASH_PREFIX = "portcullis-log\0";

/**
 * Hashes addresses for log lines: HMAC-SHA-256 under the directory key (DIRECTORY_KEY, which the
 * hub and every edge share) of `portcullis-log\0` + the normalised address, first 16 hex digits.
 *
 * Keyed, not a plain SHA-256: the address space is small and guessable (a company's staff list, a
 * leaked list), so an unkeyed hash of an address is reversed by hashing candidates. With the key,
 * only someone who holds DIRECTORY_KEY can tell which address a hash stands for — which is what an
 * operator searching the logs does:
 *
 *   printf 'portcullis-log\0%s' alice@example.com | openssl dgst -sha256 -hmac "$DIRECTORY_KEY" | awk '{print substr($NF,1,16)}'
 *
 * The same address gives the same hash on every edge and hub, so lines about one correspondent
 * line up across workers.
 */
export class AddressHasher {
  readonly #key: DirectoryKey;

  private constructor(key: DirectoryKey) {
    this.#key = key;
  }

  /**
   * The hasher for a secret, on the directory's key (imported once per isolate, see
   * DirectoryKey.cached). Null when the secret is missing or too short (16 characters, as the
   * directory needs): then address fields are logged as null.
   *
   * @example
   * const hasher = await AddressHasher.cached(env.DIRECTORY_KEY);
   * const toHash = await hasher?.hash("alice@example.com");
   */
  static async cached(secret: string | undefined): Promise<AddressHasher | null> {
    if (typeof secret !== "string" || secret.length < 16) return null;
    return new AddressHasher(await DirectoryKey.cached(secret));
  }

  /** The log hash of an address; "" for the null sender (an empty envelope sender is no address). */
  async hash(address: string): Promise<string> {
    const trimmed = address.trim();
    if (trimmed === "" || trimmed === "<>") return "";
    // An address that does not normalise is still hashed (lower-cased), never logged as it is.
    const normalised = normaliseAddress(trimmed) ?? trimmed.toLowerCase();
    return toHex(await this.#key.mac(LOG_HASH_PREFIX + normalised)).slice(0, LOG_HASH_HEX_DIGITS);
  }
}

/**
 * An envelope's hashed addresses for a log line (`fromHash`, `toHash`), null each when there is no
 * usable key.
 *
 * @example
 * log.info("decision", { ...(await hashEnvelope(env.DIRECTORY_KEY, { from, to })), verdict: "accept" });
 */
export async function hashEnvelope(
  secret: string | undefined,
  envelope: { from: string; to: string },
): Promise<{ fromHash: string | null; toHash: string | null }> {
  const [fromHash, toHash] = await Promise.all([hashAddress(secret, envelope.from), hashAddress(secret, envelope.to)]);
  return { fromHash, toHash };
}

/**
 * One address's log hash, null when there is no usable key.
 *
 * @example
 * log.error("edge_lookup_failed", { edge: "edge-1", addressHash: await hashAddress(env.DIRECTORY_KEY, address) });
 */
export async function hashAddress(secret: string | undefined, address: string): Promise<string | null> {
  const hasher = await AddressHasher.cached(secret).catch(() => null);
  return hasher === null ? null : hasher.hash(address);
}
