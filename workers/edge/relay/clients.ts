import type { DirectoryReader } from "../../../shared/directory/reader.ts";
import { sha256Hex } from "../../../shared/directory/hash.ts";
import { cidrContains, parseCidr, parseIp } from "../../../shared/net/cidr.ts";
import { type Policies, readPolicy } from "../../../shared/policy.ts";
import { RelayError } from "../../../shared/relay/errors.ts";

/** One relay client as the edge knows it (the `relay-clients` policy; the key only as its SHA-256). */
export type RelayClient = Policies["relay-clients"][number];

/** Per policy blob (per isolate): the clients by key hash. */
const indexes = new WeakMap<object, Map<string, RelayClient>>();

/** Longest bearer token looked at: keys are 47 characters; anything much longer is not one. */
const MAX_KEY_CHARS = 512;

const unauthorized = (message: string) => new RelayError(401, "unauthorized", message);

/**
 * The client a request's API key (`Authorization: Bearer <key>`) belongs to. Keys are looked up
 * by their SHA-256, so the edge never holds one and a comparison leaks nothing about it.
 * Throws 401 for a missing or unknown key.
 */
export async function clientFor(request: Request, directory: DirectoryReader): Promise<RelayClient> {
  const header = request.headers.get("authorization") ?? "";
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (m === null) throw unauthorized("Send the relay API key as Authorization: Bearer <key>.");
  const key = m[1]!;
  if (key.length > MAX_KEY_CHARS) throw unauthorized("The API key is not valid.");
  const clients = (await readPolicy(directory, "relay-clients")) ?? [];
  let index = indexes.get(clients);
  if (index === undefined) {
    index = new Map(clients.map((c) => [c.keyHash, c]));
    indexes.set(clients, index);
  }
  const client = index.get(await sha256Hex(key));
  if (client === undefined) throw unauthorized("The API key is not valid.");
  return client;
}

/**
 * The address the request came from: `CF-Connecting-IP`, which Cloudflare sets on every request
 * from the internet and a client cannot set itself. `X-Forwarded-For` is never read: anyone can
 * write anything there.
 */
export function sourceIp(request: Request): string | null {
  const value = request.headers.get("cf-connecting-ip");
  return value === null ? null : value.trim();
}

/** Throws 403 unless the request comes from one of the client's allowed ranges (none listed: none allowed). */
export function assertIpAllowed(request: Request, client: RelayClient): string {
  const ip = sourceIp(request);
  const parsed = ip === null ? null : parseIp(ip);
  if (parsed === null || !client.allowedIps.some((range) => cidrContains(parseCidr(range)!, parsed))) {
    throw new RelayError(403, "ip_not_allowed", `This client may not relay from ${ip ?? "an unknown address"}.`);
  }
  return ip!;
}
