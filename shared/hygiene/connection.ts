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

/** The header fields at the top of a message, unfolded, stopping at the blank line or the limits. */
function topFields(raw: Uint8Array): Field[] {
  const text = new TextDecoder("latin1").decode(raw.subarray(0, Math.min(raw.byteLength, MAX_TOP_BYTES)));
  const fields: Field[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === "") break;
    if ((line.startsWith(" ") || line.startsWith("\t")) && fields.length > 0) {
      fields[fields.length - 1]!.value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) break;
    if (fields.length === MAX_TOP_FIELDS) break;
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return fields;
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
  for (const field of topFields(raw)) {
    if (field.name === "received") {
      if (!CLOUDFLARE_RECEIVED.test(field.value)) break;
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
  }
  return { ip: stamped ? ip : null, helo: stamped ? helo : null, cloudflare: stamped ? cloudflare : null };
}
