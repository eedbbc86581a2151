import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sha256Hex } from "../../shared/directory/hash.ts";
import type { DirectoryData } from "../../shared/directory/snapshot.ts";
import type { Policies } from "../../shared/policy.ts";
import type { RelayAnswer } from "../../shared/relay/api.ts";
import type { SendEmailFn } from "../../workers/edge/relay/connectors.ts";
import { handleRelay, type RelayDeps } from "../../workers/edge/relay/index.ts";
import type { TrackingEvent } from "../../workers/edge/tracking.ts";
import { forgetHealth } from "./delivery.ts";
import { DEMO_DIRECTORY, seedEdgeDirectory } from "./edge-directory.ts";
import { listHubMessages } from "./hub.ts";

export type RelayClient = Policies["relay-clients"][number];

/** The test client's key, as the hub would have handed it out once. */
export const RELAY_KEY = "pcr_relay-test-key-0123456789abcdefghijklmnopqrstu";
/** The address the test client relays from. */
export const CLIENT_IP = "10.1.2.3";

/** A relay client for the key, allowed 10.0.0.0/8 and 2001:db8::/32, sending as anyone @example.com and reports@partner.example. */
export async function relayClient(overrides: Partial<RelayClient> = {}, key = RELAY_KEY): Promise<RelayClient> {
  return {
    id: "sharepoint",
    name: "SharePoint",
    keyHash: await sha256Hex(key),
    allowedIps: ["10.0.0.0/8", "2001:db8::/32"],
    allowedSenders: ["@example.com", "reports@partner.example"],
    ratePerMinute: 1000,
    ...overrides,
  };
}

/**
 * Publishes the demo directory (example.com: alice, bob) with these relay clients and policies to
 * the edge under test, and forgets the health of the hubs named.
 */
export async function useRelay(clients: RelayClient[], policies: Partial<Policies> = {}, directory: DirectoryData = DEMO_DIRECTORY): Promise<void> {
  const pushed = await seedEdgeDirectory({ ...directory, policies: { "relay-clients": clients, ...policies } });
  if (pushed.status !== "committed" && pushed.status !== "unchanged") throw new Error(`directory not committed: ${JSON.stringify(pushed)}`);
  if (policies.hubs) await forgetHealth(policies.hubs.map((h) => h.id));
}

export interface RelayRequestOptions {
  key?: string | null;
  ip?: string | null;
  contentType?: string;
  idempotencyKey?: string;
  query?: string;
  headers?: Record<string, string>;
  method?: string;
}

/** A request to POST /v1/relay: JSON for an object, raw RFC 5322 for a string or bytes. */
export function relayRequest(body: unknown, options: RelayRequestOptions = {}): Request {
  const headers = new Headers(options.headers);
  const key = options.key === undefined ? RELAY_KEY : options.key;
  if (key !== null) headers.set("authorization", `Bearer ${key}`);
  const ip = options.ip === undefined ? CLIENT_IP : options.ip;
  if (ip !== null) headers.set("cf-connecting-ip", ip);
  const raw = typeof body === "string" || body instanceof Uint8Array;
  headers.set("content-type", options.contentType ?? (raw ? "message/rfc822" : "application/json"));
  if (options.idempotencyKey !== undefined) headers.set("idempotency-key", options.idempotencyKey);
  const method = options.method ?? "POST";
  return new Request(`https://edge.portcullis.test/v1/relay${options.query ?? ""}`, {
    method,
    headers,
    body: method === "GET" ? null : raw ? (body as string | Uint8Array<ArrayBuffer>) : JSON.stringify(body),
  });
}

export type RelayBody = Partial<RelayAnswer> & { error?: { code: string; message: string } };

export interface RelayResult {
  status: number;
  headers: Headers;
  /** The JSON answer: a RelayAnswer, or an error (with the recipients when routing refused them all). */
  body: RelayBody;
  /** Tracking events the submission sent. */
  events: TrackingEvent[];
}

/** Outbound mail the fake send connector took: envelope and bytes. */
export interface SentMail {
  from: string;
  to: string;
  raw: Uint8Array;
}

/** A send_email stand-in that keeps what it is given (or refuses the addresses listed). */
export function capturingSender(refuse: string[] = []): { send: SendEmailFn; sent: SentMail[] } {
  const sent: SentMail[] = [];
  return {
    sent,
    send: async (from, to, raw) => {
      if (refuse.includes(to)) throw new Error(`email to ${to} not allowed`);
      sent.push({ from, to, raw });
    },
  };
}

/**
 * Runs the relay handler to the end of its waitUntil work, with extra env (DKIM_KEYS, say) and a
 * TRACKING producer that keeps the events.
 */
export async function relay(request: Request, deps: RelayDeps = {}, extraEnv: Record<string, unknown> = {}): Promise<RelayResult> {
  const events: TrackingEvent[] = [];
  const TRACKING = {
    send: async (body: TrackingEvent) => void events.push(body),
    sendBatch: async (messages: Iterable<MessageSendRequest<TrackingEvent>>) => void events.push(...[...messages].map((m) => m.body)),
  };
  const target = { ...env, TRACKING, ...extraEnv } as unknown as Env;
  const ctx = createExecutionContext();
  const response = await handleRelay(request, target, ctx, deps);
  await waitOnExecutionContext(ctx);
  const text = await response.text();
  // Every answer is JSON; a test that gets anything else fails here.
  const body = JSON.parse(text) as RelayBody;
  return { status: response.status, headers: response.headers, body, events };
}

/** The raw bytes the hub stored for a subject (exactly one message expected). */
export async function storedRaw(subject: string): Promise<{ raw: Uint8Array; to: string[]; deliveryId: string }> {
  const found = (await listHubMessages()).filter((m) => m.subject === subject);
  if (found.length !== 1) throw new Error(`expected one stored message "${subject}", found ${found.length}`);
  const res = await env.HUB_API.fetch(`http://hub/api/v1/messages/${found[0]!.id}/raw`, { headers: { authorization: `Bearer ${env.TEST_ADMIN_TOKEN}` } });
  return { raw: new Uint8Array(await res.arrayBuffer()), to: found[0]!.to, deliveryId: found[0]!.deliveryId };
}
