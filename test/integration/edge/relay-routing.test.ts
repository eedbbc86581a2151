import { env } from "cloudflare:workers";
import PostalMime from "postal-mime";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Policies } from "../../../shared/policy.ts";
import { verifyRequest } from "../../../shared/signing.ts";
import { spoolIndex, spoolKey } from "../../../workers/edge/spool.ts";
import { chaos, storedBySubject, TWO_HUBS, waitFor } from "../../helpers/delivery.ts";
import { migrateHub } from "../../helpers/hub.ts";
import { capturingSender, relay, relayClient, relayRequest, storedRaw, useRelay } from "../../helpers/relay.ts";

beforeAll(async () => {
  await migrateHub();
});

beforeEach(async () => {
  await chaos("a", { mode: "up" });
  await chaos("b", { mode: "up" });
  await useRelay([await relayClient()]);
});

function message(to: string[], overrides: Record<string, unknown> = {}): { subject: string } & Record<string, unknown> {
  return { from: "Reports <reports@example.com>", to, subject: `routing ${crypto.randomUUID()}`, text: "Quarterly figures attached.", ...overrides };
}

/** A smart host stand-in: records each request, answers with `status`. */
function smarthost(status = 200): { fetcher: typeof fetch; requests: Request[] } {
  const requests: Request[] = [];
  return {
    requests,
    fetcher: (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      requests.push(request.clone());
      return new Response(status === 200 ? "queued as 4711" : "try later", { status });
    }) as typeof fetch,
  };
}

const SMARTHOST: Partial<Policies> = { relay: { sendConnector: { type: "smarthost", url: "https://smarthost.example.net/portcullis/submit" } } };

describe("relay routing: accepted domains go to the hubs", () => {
  it("delivers internal recipients to the upstream hub with the message's envelope, once", async () => {
    const m = message(["alice@example.com", "Bob+Reports@Example.com"]);
    const result = await relay(relayRequest(m));
    expect(result.status).toBe(200);
    expect(result.body.recipients).toEqual([
      { address: "alice@example.com", route: "internal", status: "delivered", via: "hub" },
      { address: "Bob+Reports@Example.com", route: "internal", status: "delivered", via: "hub" },
    ]);
    const stored = await storedRaw(m.subject);
    // The hub gets the envelope normalised, as from the email handler.
    expect(stored.to).toEqual(["alice@example.com", "bob+reports@example.com"]);
    expect(stored.deliveryId).toBe(result.body.deliveryId);
    const parsed = await PostalMime.parse(stored.raw);
    expect(parsed.from?.address).toBe("reports@example.com");
    expect(parsed.text?.trim()).toBe("Quarterly figures attached.");
  });

  it("delivers to a recipient that refuses internet mail: relayed mail is authenticated", async () => {
    await useRelay(
      [await relayClient()],
      {},
      { domains: ["example.com"], recipients: ["alice@example.com", { address: "ceo@example.com", rejectInternet: true }] },
    );
    const m = message(["ceo@example.com"]);
    const result = await relay(relayRequest(m));
    expect(result.body.recipients).toEqual([{ address: "ceo@example.com", route: "internal", status: "delivered", via: "hub" }]);
    expect((await storedRaw(m.subject)).to).toEqual(["ceo@example.com"]);
  });

  it("records tracking events as for inbound mail: the decision and the hubs' round", async () => {
    const m = message(["alice@example.com"]);
    const result = await relay(relayRequest(m));
    const decision = result.events.find((e) => e.kind === "decision");
    const round = result.events.find((e) => e.kind === "delivery");
    expect(decision).toMatchObject({
      outcome: "accepted",
      action: "accept",
      deliveryId: result.body.deliveryId,
      messageId: result.body.messageId,
      sender: "reports@example.com",
      recipients: ["alice@example.com"],
      smtp: "250 2.0.0 OK",
      hubId: "hub",
      detail: "relay client sharepoint",
      agents: [{ agent: "relay", result: "pass" }, { agent: "parse" }, { agent: "malware" }, { agent: "attachment-filter" }],
    });
    expect(round).toMatchObject({ outcome: "delivered", hubId: "hub", deliveryId: result.body.deliveryId, round: 1 });
  });

  it("refuses unknown users at an accepted domain per recipient, and the whole request when nobody is left (400)", async () => {
    const sender = capturingSender();
    const m = message(["alice@example.com", "nobody@example.com", "partner@elsewhere.example"]);
    const mixed = await relay(relayRequest(m), { sendEmail: sender.send });
    expect(mixed.status).toBe(200);
    expect(mixed.body.status).toBe("partial");
    expect(mixed.body.recipients?.map((r) => [r.address, r.route, r.status, r.code])).toEqual([
      ["alice@example.com", "internal", "delivered", undefined],
      ["nobody@example.com", "internal", "rejected", "unknown_recipient"],
      ["partner@elsewhere.example", "external", "sent", undefined],
    ]);
    expect((await storedRaw(m.subject)).to).toEqual(["alice@example.com"]);
    expect(sender.sent.map((s) => [s.from, s.to])).toEqual([["reports@example.com", "partner@elsewhere.example"]]);

    const none = await relay(relayRequest(message(["nobody@example.com", "ghost@example.com"])));
    expect(none.status).toBe(400);
    expect(none.body.error?.code).toBe("recipients_refused");
    expect(none.body.recipients?.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(none.events.find((e) => e.kind === "decision")?.outcome).toBe("rejected");
  });

  it("spools instead of losing the message when no hub answers, and the spool delivers it once a hub is back", async () => {
    await useRelay([await relayClient()], { hubs: TWO_HUBS, delivery: { retryBaseSeconds: 1 } });
    await chaos("a", { mode: "down" });
    await chaos("b", { mode: "down" });
    const m = message(["alice@example.com"]);
    const result = await relay(relayRequest(m));
    expect(result.status).toBe(200);
    expect(result.body.recipients).toEqual([{ address: "alice@example.com", route: "internal", status: "queued" }]);
    expect(result.events.find((e) => e.kind === "decision")?.outcome).toBe("spooled");
    const deliveryId = result.body.deliveryId!;
    expect(await env.SPOOL.head(spoolKey(env.EDGE_ID, deliveryId))).not.toBeNull();
    expect(await spoolIndex(env).get(deliveryId)).toMatchObject({ state: "queued", envelope: { from: "reports@example.com", to: ["alice@example.com"] } });
    expect(await storedBySubject(m.subject)).toBe(0);

    await chaos("b", { mode: "up" });
    await waitFor("the spooled relay message to be delivered", async () => (await storedBySubject(m.subject)) === 1);
    expect(await storedBySubject(m.subject)).toBe(1);
  });
});

describe("relay routing: other domains go to the send connector", () => {
  it("sends external recipients through Email Service, one envelope recipient per send, with the relay's message", async () => {
    const sender = capturingSender();
    const m = message(["one@partner.example", "two@partner.example"]);
    const result = await relay(relayRequest(m), { sendEmail: sender.send });
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ status: "accepted" });
    expect(result.body.recipients?.map((r) => [r.address, r.route, r.status, r.via])).toEqual([
      ["one@partner.example", "external", "sent", "send_email"],
      ["two@partner.example", "external", "sent", "send_email"],
    ]);
    expect(sender.sent.map((s) => s.to)).toEqual(["one@partner.example", "two@partner.example"]);
    const parsed = await PostalMime.parse(sender.sent[0]!.raw);
    expect(parsed.subject).toBe(m.subject);
    expect(parsed.messageId).toBe(result.body.messageId);
    expect(await storedBySubject(m.subject)).toBe(0);
    expect(result.events.find((e) => e.kind === "delivery")).toMatchObject({
      hubId: "send_email",
      outcome: "delivered",
      recipients: ["one@partner.example", "two@partner.example"],
      attempts: [{ hub: "send_email", ok: true }],
    });
  });

  it("sends through the edge's own send_email binding when nothing is injected", async () => {
    const result = await relay(relayRequest(message(["someone@partner.example"])));
    expect(result.status).toBe(200);
    expect(result.body.recipients).toEqual([{ address: "someone@partner.example", route: "external", status: "sent", via: "send_email" }]);
  });

  it("reports a destination Email Service refuses as failed, the others as sent", async () => {
    const sender = capturingSender(["blocked@partner.example"]);
    const result = await relay(relayRequest(message(["ok@partner.example", "blocked@partner.example"])), { sendEmail: sender.send });
    expect(result.status).toBe(200);
    expect(result.body.status).toBe("partial");
    expect(result.body.recipients?.[1]).toMatchObject({ status: "failed", code: "connector_refused", message: expect.stringMatching(/not allowed/) });
    expect(result.events.find((e) => e.kind === "delivery")).toMatchObject({ outcome: "failed", hubId: "send_email" });
  });

  it("posts to a smart host with the envelope in the signed query and the message as the body", async () => {
    await useRelay([await relayClient()], SMARTHOST);
    const host = smarthost();
    const m = message(["one@partner.example", "two@partner.example", "alice@example.com"]);
    const result = await relay(relayRequest(m), { fetcher: host.fetcher });
    expect(result.status).toBe(200);
    expect(result.body.recipients?.map((r) => [r.address, r.status, r.via])).toEqual([
      ["one@partner.example", "sent", "smarthost"],
      ["two@partner.example", "sent", "smarthost"],
      ["alice@example.com", "delivered", "hub"],
    ]);
    expect(host.requests).toHaveLength(1);
    const request = host.requests[0]!;
    const url = new URL(request.url);
    expect(`${url.origin}${url.pathname}`).toBe("https://smarthost.example.net/portcullis/submit");
    expect(url.searchParams.get("id")).toBe(result.body.deliveryId);
    expect(url.searchParams.get("from")).toBe("reports@example.com");
    expect(url.searchParams.getAll("to")).toEqual(["one@partner.example", "two@partner.example"]);
    expect(request.headers.get("content-type")).toBe("message/rfc822");
    const body = new Uint8Array(await request.arrayBuffer());
    expect((await PostalMime.parse(body)).subject).toBe(m.subject);
    const verified = await verifyRequest(env.SYNC_SIGNING_KEY, "POST", `${url.pathname}${url.search}`, request.headers, body);
    expect(verified.ok).toBe(true);
    // Changing a recipient in transit breaks the signature.
    const forged = `${url.pathname}${url.search.replace("two%40partner.example", "mallory%40evil.example")}`;
    expect((await verifyRequest(env.SYNC_SIGNING_KEY, "POST", forged, request.headers, body)).ok).toBe(false);
  });

  it("defers recipients a smart host cannot take now (503, nothing kept for the key), and fails the ones it refuses", async () => {
    await useRelay([await relayClient()], SMARTHOST);
    const down = smarthost(503);
    const key = crypto.randomUUID();
    const m = message(["one@partner.example"]);
    const first = await relay(relayRequest(m, { idempotencyKey: key }), { fetcher: down.fetcher });
    expect(first.status).toBe(503);
    expect(first.body.error?.code).toBe("unavailable");
    expect(first.headers.get("retry-after")).toBe("30");
    expect(first.body.recipients).toMatchObject([{ status: "deferred", code: "connector_unavailable" }]);
    // Nothing went out, so a retry with the same key runs again (and now gets through).
    const up = smarthost();
    const again = await relay(relayRequest(m, { idempotencyKey: key }), { fetcher: up.fetcher });
    expect(again.status).toBe(200);
    expect(up.requests).toHaveLength(1);

    const refused = await relay(relayRequest(message(["one@partner.example"])), { fetcher: smarthost(550 - 100).fetcher });
    expect(refused.status).toBe(400);
    expect(refused.body.recipients).toMatchObject([{ status: "failed", code: "connector_refused", message: expect.stringMatching(/HTTP 450/) }]);
  });

  it("refuses external recipients when the relay policy has no send connector", async () => {
    await useRelay([await relayClient()], { relay: { sendConnector: { type: "none" } } });
    const sender = capturingSender();
    const result = await relay(relayRequest(message(["alice@example.com", "someone@partner.example"])), { sendEmail: sender.send });
    expect(result.status).toBe(200);
    expect(result.body.recipients?.[1]).toMatchObject({ status: "rejected", code: "relay_denied", message: "550 5.7.1 Relaying denied" });
    expect(sender.sent).toHaveLength(0);
  });
});
