import { concatBytes, readBounded } from "../bytes.ts";
import { DnsError, type RecordType, type Resolver } from "../dns.ts";
import {
  DNS_CACHE_MAX_ENTRIES,
  DNS_CACHE_MAX_TTL_SECONDS,
  DNS_NEGATIVE_CACHE_DEFAULT_TTL_SECONDS,
  DNS_NEGATIVE_CACHE_MAX_TTL_SECONDS,
  DNS_QUERY_TIMEOUT_MS,
  MAX_DOH_RESPONSE_BYTES,
} from "../limits.ts";
import { normaliseDnsName } from "./stub.ts";

/** Cloudflare's public resolver, JSON flavour of DNS over HTTPS. */
export const DEFAULT_DOH_ENDPOINT = "https://cloudflare-dns.com/dns-query";

/** RR type numbers (RFC 1035 §3.2.2, RFC 3596). */
const TYPE_CODES: Record<RecordType, number> = { A: 1, CNAME: 5, PTR: 12, MX: 15, TXT: 16, AAAA: 28 };
const SOA = 6;

/** RCODEs (RFC 1035 §4.1.1) that mean "answered": NOERROR and NXDOMAIN. Anything else is a DNS error. */
const NOERROR = 0;
const NXDOMAIN = 3;

export type DohFetch = (url: string, init: { method: "GET"; headers: Record<string, string>; signal: AbortSignal }) => Promise<Response>;

export interface DohResolverOptions {
  /** The JSON DoH endpoint (`?name=&type=` is appended); default {@link DEFAULT_DOH_ENDPOINT}. */
  endpoint?: string;
  /** How requests are sent; default the global `fetch`. Injected by tests. */
  fetch?: DohFetch;
  /** Per-question time limit (ms); default DNS_QUERY_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Answer cache; default one shared by the whole isolate. `null` turns caching off. */
  cache?: DnsCache | null;
  /** Clock for cache expiry (ms since the epoch); default `Date.now`. */
  now?: () => number;
}

interface CacheEntry {
  records: string[];
  expiresAt: number;
}

/**
 * DNS answers kept until their TTL runs out, least recently used dropped first past `maxEntries`.
 * Negative answers (NXDOMAIN, no records of the type) are cached too, as RFC 2308 asks.
 */
export class DnsCache {
  readonly #entries = new Map<string, CacheEntry>();
  readonly maxEntries: number;

  constructor(maxEntries: number = DNS_CACHE_MAX_ENTRIES) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`DNS cache size must be a positive integer, got ${maxEntries}`);
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, now: number): string[] | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAt <= now) return undefined;
    this.#entries.set(key, entry); // most recently used goes last
    return [...entry.records];
  }

  set(key: string, records: string[], ttlSeconds: number, now: number): void {
    if (ttlSeconds <= 0) return;
    this.#entries.delete(key);
    while (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    this.#entries.set(key, { records: [...records], expiresAt: now + ttlSeconds * 1000 });
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** One cache per isolate: answers are public data, and every message from a sender asks the same questions. */
const isolateCache = new DnsCache();

/**
 * A {@link Resolver} over DNS-over-HTTPS (the JSON API Cloudflare and Google serve), with a
 * per-question time limit, an isolate-wide cache that honours TTLs (and caches negative answers
 * from the SOA), and {@link DnsError} for anything that is not an answer: a time-out, SERVFAIL or
 * another error RCODE, an HTTP error, a network failure or a malformed body.
 *
 * @example
 * const dns = new DohResolver({ fetch: (url, init) => fetch(url, init) });
 * await dns.resolve("example.com", "TXT") // ["v=spf1 -all"]
 */
export class DohResolver implements Resolver {
  readonly #endpoint: string;
  readonly #fetch: DohFetch;
  readonly #timeoutMs: number;
  readonly #cache: DnsCache | null;
  readonly #now: () => number;
  /** Questions on the wire, so concurrent askers share one request. */
  readonly #inFlight = new Map<string, Promise<string[]>>();

  constructor(options: DohResolverOptions = {}) {
    const timeoutMs = options.timeoutMs ?? DNS_QUERY_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 30_000) {
      throw new RangeError(`DNS query timeout must be an integer from 1 to 30000 ms, got ${timeoutMs}`);
    }
    const endpoint = new URL(options.endpoint ?? DEFAULT_DOH_ENDPOINT);
    if (endpoint.protocol !== "https:" && endpoint.protocol !== "http:") throw new RangeError(`DoH endpoint must be an http(s) URL, got ${endpoint.href}`);
    this.#endpoint = endpoint.href;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#timeoutMs = timeoutMs;
    this.#cache = options.cache === undefined ? isolateCache : options.cache;
    this.#now = options.now ?? Date.now;
  }

  async resolve(name: string, type: RecordType): Promise<string[]> {
    const qname = normaliseDnsName(name);
    // A name no server could hold (RFC 1035 §2.3.4) is answered here, without a subrequest.
    if (!isQueryableName(qname)) return [];
    const key = `${type} ${qname}`;
    const cached = this.#cache?.get(key, this.#now());
    if (cached !== undefined) return cached;
    let pending = this.#inFlight.get(key);
    if (pending === undefined) {
      pending = this.#query(qname, type, key).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return [...(await pending)];
  }

  async #query(qname: string, type: RecordType, key: string): Promise<string[]> {
    const url = new URL(this.#endpoint);
    url.searchParams.set("name", qname);
    url.searchParams.set("type", type);
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(() => {
        controller.abort();
        fail(new DnsError(`DNS query for ${qname} ${type} timed out after ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
    });
    let body: unknown;
    try {
      body = await Promise.race([this.#fetchJson(url.href, qname, type, controller.signal), timeout]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
    const { records, ttl } = parseAnswer(body, qname, type);
    this.#cache?.set(key, records, ttl, this.#now());
    return records;
  }

  async #fetchJson(url: string, qname: string, type: RecordType, signal: AbortSignal): Promise<unknown> {
    let response: Response;
    try {
      response = await this.#fetch(url, { method: "GET", headers: { accept: "application/dns-json" }, signal });
    } catch (error) {
      throw new DnsError(`DNS query for ${qname} ${type} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new DnsError(`DNS query for ${qname} ${type}: HTTP ${response.status}`);
    }
    let text: string;
    try {
      text = await readBoundedText(response, MAX_DOH_RESPONSE_BYTES);
    } catch (error) {
      throw new DnsError(`DNS answer for ${qname} ${type} could not be read: ${error instanceof Error ? error.message : String(error)}`);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new DnsError(`DNS answer for ${qname} ${type} is not JSON`);
    }
  }
}

/** The body as text, refusing (and cancelling) one longer than `max` bytes instead of buffering it. */
async function readBoundedText(response: Response, max: number): Promise<string> {
  if (response.body === null) return "";
  return new TextDecoder().decode(await readBounded(response.body, max));
}

interface DohRecord {
  type: number;
  TTL: number;
  data: string;
}

function isRecordList(value: unknown): value is DohRecord[] {
  return (
    Array.isArray(value) &&
    value.every(
      (r) =>
        typeof r === "object" && r !== null && typeof r.type === "number" && typeof r.TTL === "number" && Number.isFinite(r.TTL) && typeof r.data === "string",
    )
  );
}

/** The records and cache lifetime (seconds) of a DoH JSON answer; throws DnsError for an error RCODE or a malformed body. */
function parseAnswer(body: unknown, qname: string, type: RecordType): { records: string[]; ttl: number } {
  if (typeof body !== "object" || body === null || typeof (body as { Status?: unknown }).Status !== "number") {
    throw new DnsError(`DNS answer for ${qname} ${type} has no status`);
  }
  const { Status: status, Answer: answer = [], Authority: authority = [] } = body as { Status: number; Answer?: unknown; Authority?: unknown };
  if (status !== NOERROR && status !== NXDOMAIN) throw new DnsError(`DNS answer for ${qname} ${type}: RCODE ${status}${status === 2 ? " (SERVFAIL)" : ""}`);
  if (!isRecordList(answer) || !isRecordList(authority)) throw new DnsError(`DNS answer for ${qname} ${type} is malformed`);
  const wanted = TYPE_CODES[type];
  const matching = status === NOERROR ? answer.filter((r) => r.type === wanted) : [];
  if (matching.length > 0) {
    // Every record of the chain (CNAMEs included) bounds how long the answer holds.
    const ttl = Math.min(...answer.map((r) => r.TTL), DNS_CACHE_MAX_TTL_SECONDS);
    return { records: matching.map((r) => formatRecord(type, r.data)), ttl: Math.max(ttl, 0) };
  }
  return { records: [], ttl: negativeTtl(authority) };
}

/** RFC 2308 §5: a negative answer lives for the lesser of the SOA's TTL and its MINIMUM field. */
function negativeTtl(authority: DohRecord[]): number {
  const soa = authority.find((r) => r.type === SOA);
  if (soa === undefined) return DNS_NEGATIVE_CACHE_DEFAULT_TTL_SECONDS;
  const minimum = Number(soa.data.trim().split(/\s+/)[6]);
  const ttl = Number.isFinite(minimum) ? Math.min(soa.TTL, minimum) : soa.TTL;
  return Math.max(0, Math.min(ttl, DNS_NEGATIVE_CACHE_MAX_TTL_SECONDS));
}

/** One record in the Resolver form: TXT strings joined, names without the root dot, MX "<pref> <exchange>". */
function formatRecord(type: RecordType, data: string): string {
  switch (type) {
    case "TXT":
      return joinTxt(data);
    case "MX": {
      const [preference = "", exchange = ""] = data.trim().split(/\s+/);
      return `${preference} ${exchange.replace(/\.$/, "")}`;
    }
    case "CNAME":
    case "PTR":
      return data.trim().replace(/\.$/, "");
    case "A":
    case "AAAA":
      return data.trim();
  }
}

/**
 * TXT data as resolvers print it — one or more quoted character-strings, with `\"`, `\\` and
 * `\DDD` escapes — joined into one string (RFC 7208 §3.3, RFC 6376 §3.6.2.2). Some resolvers
 * send the text unquoted; that is taken as it is.
 */
function joinTxt(data: string): string {
  const text = data.trim();
  if (!text.startsWith('"')) return text;
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const [, inner = ""] of text.matchAll(/"((?:[^"\\]|\\.)*)"/gs)) {
    let i = 0;
    while (i < inner.length) {
      const escape = inner.indexOf("\\", i);
      const end = escape === -1 ? inner.length : escape;
      parts.push(encoder.encode(inner.slice(i, end)));
      if (escape === -1) break;
      const digits = /^\d{3}/.exec(inner.slice(escape + 1, escape + 4));
      if (digits !== null) {
        parts.push(Uint8Array.of(Number(digits[0]) & 0xff));
        i = escape + 4;
      } else {
        const escaped = String.fromCodePoint(inner.codePointAt(escape + 1) ?? 0x5c);
        parts.push(encoder.encode(escaped));
        i = escape + 1 + escaped.length;
      }
    }
  }
  return new TextDecoder().decode(concatBytes(parts));
}

/** At most 253 characters in labels of 1–63 (RFC 1035 §2.3.4); anything else cannot exist. */
function isQueryableName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((label) => label.length >= 1 && label.length <= 63);
}
