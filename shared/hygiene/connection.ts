import { parseIp } from "../net/cidr.ts";
import type { ConnectionInfo } from "./types.ts";

/**
 * Email Routing stamps these on top of every message before the worker sees it (observed, not
 * documented): a `Received: from <helo> (<ip>) by cloudflare-email.net`, ARC headers sealed by
 * cloudflare-email.net, `ARC-Authentication-Results: i=1; mx.cloudflare.net; …; smtp.remote-ip=<ip>`,
 * `Received-SPF: … client-ip=<ip>` and `Authentication-Results: mx.cloudflare.net; …`.
 */
const CLOUDFLARE_RECEIVED = /\bby\s+cloudflare-email\.net\b/i;
const CLOUDFLARE_AUTHSERV = /^\s*(?:i=\d+\s*;\s*)?mx\.cloudflare\.net\s*;/i;

/** Header fields above the first foreign Received that are read: enough for Cloudflare's block. */
const MAX_TOP_FIELDS = 64;

/**
 * Bytes at the top of the message read for the stamp. Cloudflare's block is a few KiB; reading
 * a bounded window keeps this step's cost independent of the message size.
 */
const MAX_TOP_BYTES = 32 * 1024;

interface Field {
  name: string;
  value: string;
}

/** Windows-1252 under the WHATWG name "latin1": one character per byte, never an error. */
const latin1 = new TextDecoder("latin1");

/** ASCII reads the same in UTF-8, whose decoder is native and several times faster than "latin1". */
const ascii = new TextDecoder();

/** Bytes as text, one character per byte (as `latin1` decodes them). */
function decodeLine(raw: Uint8Array, start: number, end: number): string {
  for (let i = start; i < end; i++) if (raw[i]! >= 0x80) return latin1.decode(raw.subarray(start, end));
  return ascii.decode(raw.subarray(start, end));
}

/** The fields the stamp is read from; the names and values of others are never decoded. */
const STAMP_FIELDS: readonly string[] = ["received", "arc-authentication-results", "authentication-results", "received-spf"];

/** White space as trim() removes it from bytes decoded as `latin1` does (0xa0 is a no-break space). */
function isTrimmed(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d) || byte === 0xa0;
}

/**
 * Which of `names` (lower-case ASCII) the field name `raw[start, end)` is, as decoding it, trim()
 * and toLowerCase() would find, or null. Compared on the bytes: no other character of the
 * decoded name lower-cases to an ASCII letter.
 */
function fieldName(raw: Uint8Array, start: number, end: number, names: readonly string[]): string | null {
  while (start < end && isTrimmed(raw[start]!)) start++;
  while (end > start && isTrimmed(raw[end - 1]!)) end--;
  next: for (const name of names) {
    if (name.length !== end - start) continue;
    for (let i = 0; i < name.length; i++) {
      const b = raw[start + i]!;
      if ((b >= 0x41 && b <= 0x5a ? b | 0x20 : b) !== name.charCodeAt(i)) continue next;
    }
    return name;
  }
  return null;
}

/**
 * The header fields at the top of a message that are named in `wanted`, unfolded, in order,
 * stopping at the blank line or the limits, each handed to `visit` once complete; `visit`
 * returns false to stop reading. Fields are read one at a time, so a caller that stops early (at
 * the first foreign Received, which is usually among the first fields) decodes only what it
 * looked at, and the fields not wanted are stepped over without decoding their names or values.
 */
function readTopFields(raw: Uint8Array, wanted: readonly string[], visit: (field: Field) => boolean): void {
  const end = Math.min(raw.byteLength, MAX_TOP_BYTES);
  let count = 0;
  let inField = false;
  let current: Field | null = null;
  for (let at = 0; at <= end;) {
    // Lines end at LF; a CR right before it belongs to the line break (as splitting on /\r?\n/).
    const start = at;
    let nl = raw.indexOf(0x0a, start);
    const broken = nl !== -1 && nl < end;
    if (!broken) nl = end;
    const stop = broken && nl > start && raw[nl - 1] === 0x0d ? nl - 1 : nl;
    at = nl + 1;
    if (stop === start) break; // the blank line
    const first = raw[start];
    if ((first === 0x20 || first === 0x09) && inField) {
      if (current !== null) current.value += ` ${decodeLine(raw, start, stop).trim()}`;
      continue;
    }
    if (current !== null && !visit(current)) return;
    let colon = start;
    while (colon < stop && raw[colon] !== 0x3a) colon++;
    if (colon === start || colon === stop || count === MAX_TOP_FIELDS) return;
    count++;
    inField = true;
    const name = fieldName(raw, start, colon, wanted);
    current = name === null ? null : { name, value: decodeLine(raw, colon + 1, stop).trim() };
  }
  if (current !== null) visit(current);
}

function validIp(candidate: string | undefined): string | null {
  if (candidate === undefined) return null;
  const cleaned = candidate.replace(/^\[|\]$/g, "").replace(/^ipv6:/i, "");
  return parseIp(cleaned) === null ? null : cleaned;
}

/** Cloudflare's method results from its Authentication-Results value ("dkim=pass …; spf=none …"). */
function methodResults(value: string): NonNullable<ConnectionInfo["cloudflare"]> {
  const out: NonNullable<ConnectionInfo["cloudflare"]> = {};
  for (const m of value.matchAll(/(?:^|;)\s*(spf|dkim|dmarc|arc)\s*=\s*([a-z]+)/gi)) {
    const method = m[1]!.toLowerCase() as keyof typeof out;
    out[method] ??= m[2]!.toLowerCase();
  }
  return out;
}

/**
 * Who connected, from the top-most Cloudflare stamp only. Fields are read from the top down to
 * the first Received that Cloudflare did not write: anything below it could have been written by
 * the sender, who can forge a whole "Cloudflare" block further down. When the stamp is missing
 * (it sometimes is, and the local simulator adds none) the connection is unknown, not guessed.
 *
 * @example
 * parseConnection(raw) // { ip: "203.0.113.7", helo: "mail.example.net", cloudflare: { spf: "pass", dkim: "pass", dmarc: "pass" } }
 */
export function parseConnection(raw: Uint8Array): ConnectionInfo {
  let ip: string | null = null;
  let helo: string | null = null;
  let cloudflare: ConnectionInfo["cloudflare"] = null;
  let stamped = false;
  readTopFields(raw, STAMP_FIELDS, (field) => {
    if (field.name === "received") {
      // The stamp names cloudflare-email.net; a Received that does not is foreign without a search.
      if (!field.value.toLowerCase().includes("cloudflare-email.net") || !CLOUDFLARE_RECEIVED.test(field.value)) return false;
      stamped = true;
      const m = /^from\s+(\S+)\s+\(([^)]*)\)/i.exec(field.value);
      if (m !== null && ip === null) {
        helo = m[1]!;
        // "(mail.example.net [203.0.113.7])", "(203.0.113.7)" or "(2001:db8::1)"
        const bracketed = /\[([^\]]+)\]/.exec(m[2]!)?.[1];
        ip = validIp(bracketed ?? m[2]!.trim().split(/\s+/).pop());
      }
    } else if (field.name === "arc-authentication-results" && CLOUDFLARE_AUTHSERV.test(field.value)) {
      stamped = true;
      ip ??= validIp(/smtp\.remote-ip=([^\s;]+)/i.exec(field.value)?.[1]);
      cloudflare ??= methodResults(field.value.replace(CLOUDFLARE_AUTHSERV, ""));
    } else if (field.name === "authentication-results" && CLOUDFLARE_AUTHSERV.test(field.value)) {
      stamped = true;
      cloudflare = methodResults(field.value.replace(CLOUDFLARE_AUTHSERV, ""));
    } else if (field.name === "received-spf" && stamped) {
      ip ??= validIp(/client-ip=([^\s;]+)/i.exec(field.value)?.[1]);
    }
    return true;
  });
  return { ip: stamped ? ip : null, helo: stamped ? helo : null, cloudflare: stamped ? cloudflare : null };
}
