import { z } from "zod";
import { normaliseAddress, normaliseDomain } from "./directory/address.ts";
import { type DirectoryKey, toHex } from "./directory/hash.ts";
import type { DirectoryReader } from "./directory/reader.ts";
import { parseCidr } from "./net/cidr.ts";
import { MAX_RELAY_MESSAGE_BYTES } from "./relay/limits.ts";

/**
 * The policy objects the hygiene and delivery layers read at the edge. The hub stores each as a
 * validated JSON document (`PUT /api/v1/policies/{name}`); EdgeSync carries it to every edge as a
 * blob; agents read it with {@link readPolicy}, typed. A policy that is absent means the built-in
 * defaults of whatever reads it.
 */

/** Most entries in one list, so a policy blob stays small enough to read on a cold isolate. */
export const MAX_POLICY_LIST = 10_000;

const scl = z.number().int().min(0).max(9);
const cidr = z.string().refine((s) => parseCidr(s) !== null, "must be an IPv4 or IPv6 address or CIDR range");
const address = z.string().refine((s) => normaliseAddress(s) !== null, "must be an email address");
const domain = z.string().refine((s) => normaliseDomain(s) !== null, "must be a domain name");
/** An address, or a whole domain written "@example.com". */
const senderPattern = z
  .string()
  .refine((s) => (s.startsWith("@") ? normaliseDomain(s.slice(1)) !== null : normaliseAddress(s) !== null), 'must be an address or "@domain"');
const id = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "1–63 lower-case letters, digits, '.', '_' or '-'");
const note = z.string().max(200).optional();
const ipRule = z.strictObject({ cidr, expiresAt: z.iso.datetime().optional(), note });

export const POLICY_SCHEMAS = {
  /** Spam Confidence Level thresholds: at or above `reject` the message is refused, and so on down. */
  thresholds: z
    .strictObject({ reject: scl, quarantine: scl, tag: scl })
    .refine((t) => t.tag <= t.quarantine && t.quarantine <= t.reject, "thresholds must satisfy tag ≤ quarantine ≤ reject"),
  /** Connection filter: client IPs always allowed or always blocked, each with an optional expiry. */
  "ip-lists": z.strictObject({
    allow: z.array(ipRule).max(MAX_POLICY_LIST),
    block: z.array(ipRule).max(MAX_POLICY_LIST),
    /** DNS block lists queried over DNS-over-HTTPS (e.g. "zen.spamhaus.org"); a listed IP is refused. */
    dnsbl: z.array(domain).max(10).optional(),
  }),
  /** Sender filter: blocked senders and domains, and what to do with the null sender <>. */
  "sender-lists": z.strictObject({
    blockedSenders: z.array(address).max(MAX_POLICY_LIST),
    blockedDomains: z.array(domain).max(MAX_POLICY_LIST),
    blankSender: z.enum(["accept", "reject"]),
  }),
  /**
   * Safe senders skip the content filter: for everyone (`global`) or per recipient. At the hub
   * `perRecipient` is keyed by recipient address; edges receive it keyed by the recipient's keyed
   * hash, so no recipient address reaches an edge in clear.
   */
  "safe-senders": z.strictObject({
    global: z.array(senderPattern).max(MAX_POLICY_LIST),
    perRecipient: z.record(z.string(), z.array(senderPattern).max(1000)).refine((r) => Object.keys(r).length <= MAX_POLICY_LIST, "too many recipients"),
  }),
  /** Attachment filter rules. */
  attachments: z.strictObject({
    blockedExtensions: z.array(z.string().regex(/^[a-z0-9]{1,16}$/, "an extension without the dot, lower case")).max(1000),
    blockedContentTypes: z.array(z.string().regex(/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+*-]+$/, "a type/subtype")).max(1000),
    blockEncryptedArchives: z.boolean(),
    blockMacros: z.boolean(),
  }),
  /** Upstream hubs the edges deliver to (MX-like priority groups, weighted inside a group). */
  hubs: z
    .array(
      z.strictObject({
        id,
        transport: z.enum(["binding", "https", "forward"]),
        binding: z
          .string()
          .regex(/^[A-Z][A-Z0-9_]*$/)
          .optional(),
        url: z.url({ protocol: /^https$/ }).optional(),
        address: address.optional(),
        priority: z.number().int().min(0).max(100),
        weight: z.number().int().min(1).max(100),
        maxConcurrency: z.number().int().min(1).max(1000),
      }),
    )
    .max(100),
  /**
   * How edges deliver to the hubs and run their spool. Every field is optional; an absent one takes
   * its default from shared/delivery/settings.ts.
   */
  delivery: z.strictObject({
    /** Longest one attempt at one hub may take before the edge tries the next. */
    attemptTimeoutMs: z.number().int().min(100).max(20_000).optional(),
    /** Longest the email handler spends on attempts before spooling (it is cancelled after ~30 s). */
    budgetMs: z.number().int().min(100).max(25_000).optional(),
    /** Passive circuit breaker: consecutive failures that open it, and how long it stays open before a half-open probe. */
    breakerFailures: z.number().int().min(1).max(1000).optional(),
    breakerOpenSeconds: z.number().int().min(1).max(86_400).optional(),
    /** Spool retries: exponential backoff from the base, capped at the max. */
    retryBaseSeconds: z.number().int().min(1).max(43_200).optional(),
    retryMaxSeconds: z.number().int().min(1).max(43_200).optional(),
    /** When the sender gets a delay notice (RFC 3464 "delayed"), and when the message expires (NDR, dead letter). */
    delayNoticeAfterSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .optional(),
    expireAfterSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .optional(),
  }),
  /**
   * The content filter's statistical model (base64, see shared/hygiene/content/model-codec.ts).
   * The hub ships the model it was built with unless an administrator sets another.
   */
  "content-model": z.strictObject({ version: z.string().min(1).max(100), model: z.base64().max(4 * 1024 * 1024) }),
  /**
   * Applications allowed to relay through the edge (POST /v1/relay); keys are stored only as
   * SHA-256 hashes. Managed at /api/v1/relay-clients, which creates the keys.
   */
  "relay-clients": z
    .array(
      z.strictObject({
        id,
        name: z.string().min(1).max(100),
        keyHash: z.string().regex(/^[0-9a-f]{64}$/, "the SHA-256 of the key, hex"),
        /** Source addresses (CF-Connecting-IP) the client may relay from; an empty list allows none. */
        allowedIps: z.array(cidr).max(1000),
        /** Addresses or "@domain"s the client may put in From and Sender. */
        allowedSenders: z.array(senderPattern).max(1000),
        /** Messages per minute, also the burst a client may send at once. */
        ratePerMinute: z.number().int().min(1).max(100_000),
        /** Largest message the client may submit (bytes); absent: MAX_RELAY_MESSAGE_BYTES. */
        maxMessageBytes: z.number().int().min(1024).max(MAX_RELAY_MESSAGE_BYTES).optional(),
        createdAt: z.iso.datetime().optional(),
      }),
    )
    .max(10_000)
    .refine((clients) => new Set(clients.map((c) => c.id)).size === clients.length, "client ids must be unique")
    .refine((clients) => new Set(clients.map((c) => c.keyHash)).size === clients.length, "keys must be unique"),
  /**
   * The relay's send connector: where mail for recipients outside the accepted domains goes.
   * `send_email`: Cloudflare Email Service through the edge's RELAY_EMAIL binding (the default);
   * `smarthost`: a signed HTTPS POST to a relay host of yours; `none`: such recipients are refused.
   */
  relay: z.strictObject({
    sendConnector: z.discriminatedUnion("type", [
      z.strictObject({ type: z.literal("send_email") }),
      z.strictObject({ type: z.literal("smarthost"), url: z.url({ protocol: /^https$/ }) }),
      z.strictObject({ type: z.literal("none") }),
    ]),
  }),
  /** Malware agent: SHA-256 digests (lower-case hex) of attachment contents to refuse as malware. */
  malware: z.strictObject({ blockedSha256: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(MAX_POLICY_LIST) }),
} as const;

export type PolicyName = keyof typeof POLICY_SCHEMAS;
export type Policies = { [K in PolicyName]: z.infer<(typeof POLICY_SCHEMAS)[K]> };
export const POLICY_NAMES = Object.keys(POLICY_SCHEMAS) as PolicyName[];

export function isPolicyName(name: string): name is PolicyName {
  return Object.hasOwn(POLICY_SCHEMAS, name);
}

/**
 * Validates a policy document.
 *
 * @example
 * validatePolicy("thresholds", { reject: 7, quarantine: 5, tag: 3 }) // { ok: true, value: {...} }
 */
export function validatePolicy<K extends PolicyName>(name: K, value: unknown): { ok: true; value: Policies[K] } | { ok: false; errors: string[] } {
  const result = POLICY_SCHEMAS[name].safeParse(value);
  if (result.success) return { ok: true, value: result.data as Policies[K] };
  return { ok: false, errors: result.error.issues.map((i) => `${i.path.length > 0 ? `${i.path.join(".")}: ` : ""}${i.message}`) };
}

/**
 * The form a policy takes at the edge. Only `safe-senders` differs: its per-recipient keys become
 * the recipients' keyed hashes (hex), the same hashes the recipient shards hold.
 */
export async function policyForEdge(name: PolicyName, value: unknown, key: DirectoryKey): Promise<unknown> {
  if (name !== "safe-senders") return value;
  const policy = value as Policies["safe-senders"];
  const perRecipient: Record<string, string[]> = {};
  for (const [recipient, senders] of Object.entries(policy.perRecipient)) {
    const normalised = normaliseAddress(recipient);
    if (normalised !== null) perRecipient[toHex(await key.hashAddress(normalised))] = senders;
  }
  return { global: policy.global, perRecipient };
}

/** A policy blob at the edge that does not match its schema: a hub bug or a version mismatch. */
export class PolicyError extends Error {
  override name = "PolicyError";
}

const checked = new WeakMap<object, unknown>();

/**
 * Reads a policy from the directory, typed and validated (once per blob per isolate). Null when
 * the directory has none. Throws {@link PolicyError} for a malformed one, so a fail-closed agent
 * defers mail instead of acting on a policy it cannot read.
 */
export async function readPolicy<K extends PolicyName>(directory: DirectoryReader, name: K): Promise<Policies[K] | null> {
  const raw = await directory.policy(name);
  if (raw === null || raw === undefined) return null;
  if (typeof raw === "object" && checked.has(raw)) return checked.get(raw) as Policies[K];
  // At the edge, safe-senders is keyed by hashes, which the hub-side address check would refuse.
  const schema =
    name === "safe-senders"
      ? z.strictObject({ global: z.array(z.string()), perRecipient: z.record(z.string().regex(/^[0-9a-f]{32}$/), z.array(z.string())) })
      : POLICY_SCHEMAS[name];
  const result = schema.safeParse(raw);
  if (!result.success)
    throw new PolicyError(`policy ${name} in snapshot ${directory.root.slice(0, 12)} is malformed: ${result.error.issues[0]?.message ?? "invalid"}`);
  if (typeof raw === "object") checked.set(raw, result.data);
  return result.data as Policies[K];
}
