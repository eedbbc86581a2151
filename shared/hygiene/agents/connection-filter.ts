import { DnsError } from "../../dns.ts";
import { type Cidr, cidrContains, parseCidr, parseIp } from "../../net/cidr.ts";
import { type Policies, readPolicy } from "../../policy.ts";
import { CONTINUE, reject } from "../../verdict.ts";
import type { Agent } from "../types.ts";

type IpLists = Policies["ip-lists"];

/** Parsed ranges per policy object (policies are cached per snapshot, so this parses once). */
const parsed = new WeakMap<IpLists, { allow: { range: Cidr; expiresAt: number }[]; block: { range: Cidr; expiresAt: number }[] }>();

function ranges(policy: IpLists) {
  let entry = parsed.get(policy);
  if (entry === undefined) {
    const toRanges = (rules: IpLists["allow"]) =>
      rules.map((r) => ({ range: parseCidr(r.cidr)!, expiresAt: r.expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(r.expiresAt) }));
    entry = { allow: toRanges(policy.allow), block: toRanges(policy.block) };
    parsed.set(policy, entry);
  }
  return entry;
}

/** The DNSBL query name for an IP in a zone: reversed octets (IPv4) or nibbles (IPv6). */
export function dnsblName(ip: { version: 4 | 6; bytes: Uint8Array }, zone: string): string {
  const labels =
    ip.version === 4
      ? [...ip.bytes].reverse().map(String)
      : [...ip.bytes]
          .flatMap((b) => [b >> 4, b & 0xf])
          .reverse()
          .map((n) => n.toString(16));
  return `${labels.join(".")}.${zone}`;
}

/**
 * Answers in 127.0.0.0/8 mean "listed"; 127.255.255.x are the lists' own error codes (query
 * refused, rate limited), which must never block mail.
 */
function listedAnswer(records: string[]): boolean {
  return records.some((a) => a.startsWith("127.") && !a.startsWith("127.255.255."));
}

/**
 * Exchange's connection filter. The client IP is the one Cloudflare stamped on top of the message
 * (see connection.ts): an IP allow list entry lets the message skip content filtering, an IP block
 * list entry refuses it (550 5.7.1), and DNS block lists from the policy are asked over the
 * edge's DNS-over-HTTPS resolver. Entries may expire. Without a trustworthy IP, or offline, the
 * lists cannot apply and the message continues.
 *
 * DNS block lists fail open: a slow or failing list must not stop mail (Email Routing already
 * refuses IPs on Cloudflare's own reputation lists before the worker runs).
 */
export const connectionFilter: Agent = {
  name: "connection-filter",
  phase: "envelope",
  failMode: "closed",
  async check(mail, ctx) {
    const ipText = mail.connection.ip;
    if (ipText === null) return { ...CONTINUE, skipped: true, note: "client IP unknown (no Cloudflare stamp)" };
    const ip = parseIp(ipText);
    if (ip === null) return { ...CONTINUE, skipped: true, note: "client IP unreadable" };
    const policy = ctx.directory === null ? null : await readPolicy(ctx.directory, "ip-lists");
    if (policy === null) return { ...CONTINUE, note: "no IP lists" };
    const now = (ctx.now ?? Date.now)();
    const { allow, block } = ranges(policy);
    if (allow.some((r) => r.expiresAt > now && cidrContains(r.range, ip))) {
      // Trusted by the administrator: no content filtering (Exchange's SCL -1).
      mail.scl = -1;
      mail.notes["ip-allow"] = "true";
      return { ...CONTINUE, note: "IP allow list" };
    }
    if (block.some((r) => r.expiresAt > now && cidrContains(r.range, ip))) return reject({ reason: "blocked_ip", list: "ip-block" });

    const zones = policy.dnsbl ?? [];
    if (zones.length === 0) return { ...CONTINUE, note: "not listed" };
    if (!ctx.dns) return { ...CONTINUE, note: "not listed; DNS block lists skipped (offline)" };
    const dns = ctx.dns;
    const answers = await Promise.all(
      zones.map(async (zone) => {
        try {
          return { zone, listed: listedAnswer(await dns.resolve(dnsblName(ip, zone), "A")), error: null };
        } catch (err) {
          if (err instanceof DnsError) return { zone, listed: false, error: err.message };
          throw err;
        }
      }),
    );
    const hit = answers.find((a) => a.listed);
    if (hit !== undefined) return reject({ reason: "blocked_ip", list: hit.zone });
    const failed = answers.filter((a) => a.error !== null).map((a) => a.zone);
    return { ...CONTINUE, note: failed.length === 0 ? "not listed" : `not listed; no answer from ${failed.join(", ")} (fail open)` };
  },
};
