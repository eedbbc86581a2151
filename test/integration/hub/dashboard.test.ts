import { createExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { Hono } from "hono";
import { generateSignedCookie } from "hono/cookie";
import { beforeAll, describe, expect, it } from "vitest";
import type { SpoolActionResult, SpoolItem, SpoolPage, SpoolState } from "../../../shared/delivery/spool-api.ts";
import type { EdgeControlApi } from "../../../shared/directory/publish-api.ts";
import type { HubEnv } from "../../../workers/hub/app.ts";
import { createDashboard } from "../../../workers/hub/dashboard/index.ts";
import { encodeSession, type Session, sessionKey } from "../../../workers/hub/dashboard/session.ts";
import type { EdgeRecord } from "../../../workers/hub/db/edges.ts";
import { getStoredMessage } from "../../../workers/hub/quarantine/store.ts";
import { edgeClient } from "../../../workers/hub/sync/edge-client.ts";
import { buildMessage, bytesOf } from "../../helpers/mail.ts";
import { api, hubIngest, testDelivery } from "./helpers.ts";

/**
 * The operator dashboard, route by route, in workerd: login and its cookie, sessions, CSRF and
 * origin checks, roles, and every page rendered over seeded data with hostile strings escaped.
 * The dashboard is mounted in a test app, with the real edge client except for the spool, which a
 * test cannot fill through a real edge here: that part of the edge answers from a list.
 */

const HOSTILE = '<script>alert("x")</script>';
const ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;";

/** The spool as a fake edge serves it; every action is recorded. */
const spool: SpoolItem[] = [];
const spoolCalls: string[] = [];

function spoolItem(state: SpoolState, overrides: Partial<SpoolItem> = {}): SpoolItem {
  const item: SpoolItem = {
    deliveryId: crypto.randomUUID(),
    edgeId: "edge-a",
    state,
    envelope: { from: "sender@example.net", to: ["alice@example.com"] },
    messageId: "<spooled@example.net>",
    subject: "Spooled message",
    size: 2048,
    receivedAt: new Date().toISOString(),
    spooledAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    attempts: 2,
    nextAttemptAt: new Date(Date.now() + 60_000).toISOString(),
    lastError: "hub did not answer",
    lastHub: "hub",
    delayNotifiedAt: null,
    reason: null,
    endedAt: null,
    ...overrides,
  };
  spool.push(item);
  return item;
}

function spoolAct(id: string, from: SpoolState[], to: SpoolState): SpoolActionResult {
  const item = spool.find((i) => i.deliveryId === id);
  if (item === undefined) return { ok: false, error: "not_found", message: "no such message" };
  if (!from.includes(item.state)) return { ok: false, error: "conflict", message: `the message is ${item.state}` };
  item.state = to;
  return { ok: true, item };
}

/** The real edge client (directory status, lookups, hub health), with the spool answered from `spool`. */
function edgeWithSpool(e: Env, edge: EdgeRecord): EdgeControlApi {
  const real = edgeClient(e, edge);
  const fake: Partial<EdgeControlApi> = {
    async spoolList(query): Promise<SpoolPage> {
      const mine = spool.filter((i) => i.edgeId === edge.id);
      const counts = { queued: 0, suspended: 0, dead: 0, deleted: 0 };
      for (const i of mine) counts[i.state]++;
      return { items: mine.filter((i) => i.state === (query.state ?? "queued")), nextCursor: null, counts, oldestQueuedAt: null };
    },
    async spoolRetry(id) {
      spoolCalls.push(`retry ${id}`);
      return spoolAct(id, ["queued", "suspended", "dead"], "queued");
    },
    async spoolSuspend(id) {
      spoolCalls.push(`suspend ${id}`);
      return spoolAct(id, ["queued"], "suspended");
    },
    async spoolResume(id) {
      spoolCalls.push(`resume ${id}`);
      return spoolAct(id, ["suspended"], "queued");
    },
    async spoolDelete(id, reason) {
      spoolCalls.push(`delete ${id} ${reason}`);
      return spoolAct(id, ["queued", "suspended", "dead"], "deleted");
    },
  };
  return new Proxy(fake, {
    get: (target, name: string) =>
      target[name as keyof EdgeControlApi] ?? ((...args: unknown[]) => (real as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args)),
  }) as EdgeControlApi;
}

const app = new Hono<HubEnv>().route("/", createDashboard({ edgeClient: edgeWithSpool }));

/** A browser in miniature: keeps cookies, sends the page's Origin with every POST unless told otherwise. */
class Browser {
  readonly cookies = new Map<string, string>();
  readonly origin: string;
  /** Vars this browser's hub runs with instead of the test's (e.g. HUB_ROLE). */
  vars: Partial<Env> = {};
  constructor(origin = "http://localhost") {
    this.origin = origin;
  }

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (!headers.has("accept")) headers.set("accept", "text/html,application/xhtml+xml");
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await app.request(`${this.origin}${path}`, { ...init, headers }, { ...env, ...this.vars }, createExecutionContext());
    for (const line of res.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      if (/max-age=0/i.test(line)) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  }

  get(path: string): Promise<Response> {
    return this.request(path);
  }

  post(path: string, fields: Record<string, string>, options: { origin?: string | null; secFetchSite?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
    const origin = options.origin === undefined ? this.origin : options.origin;
    if (origin !== null) headers.origin = origin;
    if (options.secFetchSite !== undefined) headers["sec-fetch-site"] = options.secFetchSite;
    return this.request(path, { method: "POST", headers, body: new URLSearchParams(fields).toString() });
  }

  /** The CSRF token in the forms of a page. */
  async csrf(path = "/"): Promise<string> {
    const res = await this.get(path);
    expect(res.status).toBe(200);
    return csrfIn(await res.text());
  }

  async login(token: string = env.ADMIN_TOKEN, next = "/"): Promise<Response> {
    const csrf = await this.csrf("/login");
    return this.post("/login", { token, _csrf: csrf, next });
  }
}

function csrfIn(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (m === null) throw new Error("no CSRF field in the page");
  return m[1]!;
}

/** A signed-in browser. */
async function signedIn(origin?: string): Promise<Browser> {
  const b = new Browser(origin);
  const res = await b.login();
  expect(res.status).toBe(303);
  return b;
}

/** A browser holding a session cookie made here, signed with the dashboard's key: the bootstrap admin's unless told otherwise. */
async function minted(session: Partial<Session> = {}): Promise<Browser> {
  const b = new Browser();
  const full: Session = { sid: crypto.randomUUID(), role: "admin", tid: "bootstrap", name: "bootstrap", exp: Math.floor(Date.now() / 1000) + 3600, ...session };
  const cookie = await generateSignedCookie("portcullis-session", encodeSession(full), await sessionKey(env));
  const pair = cookie.split(";")[0]!;
  b.cookies.set(pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1));
  return b;
}

/** A browser signed in with a new API token of `role` (created through the admin API); with the token's id. */
async function withRole(role: Session["role"]): Promise<Browser & { tokenId: string }> {
  const res = await api("/api/v1/tokens", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: `dashboard ${role} ${crypto.randomUUID().slice(0, 8)}`, role }),
  });
  expect(res.status).toBe(201);
  const { id, token } = (await res.json()) as { id: string; token: string };
  const b = new Browser();
  expect((await b.login(token)).status).toBe(303);
  return Object.assign(b, { tokenId: id });
}

function json(body: unknown): RequestInit {
  return { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

/** Inserts a tracking event (and its recipient rows) as the tracking consumer stores them. */
async function trackingEvent(e: {
  at: string;
  kind?: string;
  outcome: string;
  deliveryId?: string | null;
  messageId?: string | null;
  sender?: string;
  recipients?: string[];
  smtp?: string | null;
  detail?: string | null;
}): Promise<void> {
  const recipients = e.recipients ?? ["alice@example.com"];
  const row = await env.DB.prepare(
    `INSERT INTO tracking_events (event_id, at, edge_id, kind, delivery_id, message_id, sender, recipients, action, outcome, smtp, scl, agents, hub_id, attempts, round, size, detail, latency_ms)
     VALUES (?, ?, 'edge-a', ?, ?, ?, ?, ?, NULL, ?, ?, 1, '[]', NULL, '[]', NULL, 100, ?, 5) RETURNING seq`,
  )
    .bind(
      crypto.randomUUID(),
      e.at,
      e.kind ?? "decision",
      e.deliveryId ?? null,
      e.messageId ?? null,
      e.sender ?? "sender@example.net",
      JSON.stringify(recipients),
      e.outcome,
      e.smtp ?? null,
      e.detail ?? null,
    )
    .first<{ seq: number }>();
  for (const r of recipients) await env.DB.prepare("INSERT INTO tracking_recipients (recipient, at, event_seq) VALUES (?, ?, ?)").bind(r, e.at, row!.seq).run();
}

/** Files a message in the quarantine through the hub's real ingest path, with a hostile subject and body; returns its id. */
async function quarantined(subject = HOSTILE): Promise<number> {
  const d = testDelivery(["alice@example.com"], {
    subject,
    raw: bytesOf(buildMessage({ subject, body: `Hello <b>Alice</b>, ${HOSTILE}\r\n` })),
    verdict: { action: "quarantine", scl: 6, agents: [{ agent: "content-filter", result: "fail", reason: "spam (SCL 6)" }] },
  });
  const stored = await hubIngest.ingest(d);
  expect(stored.status).toBe("stored");
  return (await env.DB.prepare("SELECT id FROM messages WHERE delivery_id = ?").bind(d.deliveryId).first<{ id: number }>())!.id;
}

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();

/** The trace's delivery: stored at the hub with a hostile subject, and its events. */
const traced = testDelivery(["alice@example.com"], { subject: HOSTILE });

beforeAll(async () => {
  expect((await api("/api/v1/edges/edge-a", json({ transport: "binding", binding: "EDGE" }))).ok).toBe(true);
  expect((await api("/api/v1/domains/example.com", json({}))).ok).toBe(true);
  const added = await api("/api/v1/recipients", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify([
      { address: "alice@example.com", aliases: ["a.smith@example.com"], sclOverride: 6 },
      { address: "bob@example.com", rejectInternet: true },
    ]),
  });
  expect(added.ok).toBe(true);
  expect((await api("/api/v1/sync", { method: "POST" })).ok).toBe(true);

  for (const [outcome, n] of [
    ["accepted", 3],
    ["rejected", 2],
    ["quarantined", 1],
    ["spooled", 1],
  ] as const) {
    for (let i = 0; i < n; i++) await trackingEvent({ at: hoursAgo(1 + i), outcome });
  }
  expect((await hubIngest.ingest({ ...traced, raw: bytesOf(buildMessage({ subject: "trace" })) })).status).toBe("stored");
  await trackingEvent({
    at: hoursAgo(30),
    outcome: "accepted",
    deliveryId: traced.deliveryId,
    messageId: `<${HOSTILE}@evil.example>`,
    sender: "mallory@evil.example",
  });
  await trackingEvent({
    at: hoursAgo(29.9),
    kind: "delivery",
    outcome: "delivered",
    deliveryId: traced.deliveryId,
    sender: "mallory@evil.example",
    detail: HOSTILE,
  });

  spoolItem("queued", { subject: HOSTILE });
  spoolItem("suspended");
  spoolItem("dead", { reason: "expired" });
});

describe("dashboard: the hub's root", () => {
  it("still answers clients that do not ask for HTML with the hub's JSON description", async () => {
    for (const accept of ["application/json", "*/*"]) {
      const res = await new Browser().request("/", { headers: { accept } });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ service: "portcullis-hub", api: "/api/v1", health: "/api/v1/health" });
    }
  });

  it("is mounted at the hub's root, beside the admin API", async () => {
    const hub = (path: string, accept: string) => exports.default.fetch(new Request(`http://localhost${path}`, { headers: { accept }, redirect: "manual" }));
    const page = await hub("/", "text/html");
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe("/login?next=%2F");
    expect(await (await hub("/", "application/json")).json()).toMatchObject({ service: "portcullis-hub", api: "/api/v1" });
    expect((await hub("/login", "text/html")).headers.get("content-security-policy")).toContain("default-src 'none'");
    const api = await hub("/api/v1/messages", "text/html");
    expect(api.status).toBe(401);
    expect(api.headers.get("content-security-policy")).toBeNull();
  });

  it("sends a browser without a session to the login page, remembering where it was going", async () => {
    const res = await new Browser().get("/queues?state=dead");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/login?${new URLSearchParams({ next: "/queues?state=dead" })}`);
  });
});

describe("dashboard: login", () => {
  it("serves the login form with a CSRF token, strict security headers and no script", async () => {
    const b = new Browser();
    const res = await b.get("/login");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(csrfIn(html).length).toBeGreaterThan(20);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).not.toMatch(/script-src|unsafe-inline/);
    const nonce = /style-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(html).toContain(`<style nonce="${nonce}">`);
    expect(html).not.toMatch(/<script/i);
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("signs in with the admin token: an HttpOnly, SameSite=Strict, expiring session cookie without the token, then back to where it was going", async () => {
    const b = new Browser();
    const res = await b.login(env.ADMIN_TOKEN, "/queues?state=dead");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/queues?state=dead");
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("portcullis-session="))!;
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).toMatch(/; Max-Age=28800/);
    // http://localhost (wrangler dev) is the one place without Secure.
    expect(cookie).not.toMatch(/; Secure/);
    const value = decodeURIComponent(cookie.slice("portcullis-session=".length).split(";")[0]!);
    expect(value).not.toContain(env.ADMIN_TOKEN);
    expect(atob(value.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/"))).not.toContain(env.ADMIN_TOKEN);
    expect((await b.get("/")).status).toBe(200);
  });

  it("marks the cookies Secure with the __Host- prefix over HTTPS, and refuses plain HTTP elsewhere", async () => {
    const b = new Browser("https://hub.example.com");
    const res = await b.login();
    expect(res.status).toBe(303);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("__Host-portcullis-session="))!;
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect((await b.get("/")).status).toBe(200);
    expect((await new Browser("http://hub.example.com").get("/login")).status).toBe(400);
  });

  it("refuses a wrong token with 401 and no session", async () => {
    const b = new Browser();
    const res = await b.login("wrong-token");
    expect(res.status).toBe(401);
    expect(await res.text()).toContain("That token was not accepted.");
    expect(b.cookies.has("portcullis-session")).toBe(false);
    expect((await b.get("/")).status).toBe(303);
  });

  it("refuses a login without the form's CSRF token, with another browser's, or from a foreign origin", async () => {
    const b = new Browser();
    await b.get("/login");
    expect((await b.post("/login", { token: env.ADMIN_TOKEN })).status).toBe(403);
    const other = await new Browser().csrf("/login");
    expect((await b.post("/login", { token: env.ADMIN_TOKEN, _csrf: other })).status).toBe(403);
    const csrf = await b.csrf("/login");
    expect((await b.post("/login", { token: env.ADMIN_TOKEN, _csrf: csrf }, { origin: "https://evil.example" })).status).toBe(403);
    expect(b.cookies.has("portcullis-session")).toBe(false);
  });

  it("only redirects to paths on this site after login", async () => {
    for (const next of ["https://evil.example/", "//evil.example/", "/\\evil.example"]) {
      const res = await new Browser().login(env.ADMIN_TOKEN, next);
      expect(res.headers.get("location")).toBe("/");
    }
  });

  it("refuses a tampered or expired session", async () => {
    const b = await signedIn();
    const [value, signature] = decodeURIComponent(b.cookies.get("portcullis-session")!).split(".");
    const session = JSON.parse(atob(value!.replace(/-/g, "+").replace(/_/g, "/"))) as Session;
    const forged = encodeSession({ ...session, exp: session.exp + 86_400 });
    b.cookies.set("portcullis-session", encodeURIComponent(`${forged}.${signature}`));
    expect((await b.get("/")).status).toBe(303);
    expect((await (await minted()).get("/")).status).toBe(200);
    expect((await (await minted({ exp: Math.floor(Date.now() / 1000) - 1 })).get("/")).status).toBe(303);
    // A cookie naming a token the hub does not know is no session either.
    expect((await (await minted({ tid: "no-such-token", role: "operator" })).get("/")).status).toBe(303);
  });

  it("signs in with an API token in the token's role, and the session ends when the token is revoked or expires", async () => {
    const reader = await withRole("read-only");
    const page = await (await reader.get("/")).text();
    expect(page).toMatch(/<span data-role="read-only">dashboard read-only [0-9a-f]{8} \(read-only\)<\/span>/);
    expect((await api(`/api/v1/tokens/${reader.tokenId}`, { method: "DELETE" })).ok).toBe(true);
    const after = await reader.get("/queues");
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toMatch(/^\/login\?/);
    // The login page does not send it back to where it was going (no redirect loop).
    expect((await reader.get("/login")).status).toBe(200);

    const operator = await withRole("operator");
    expect((await operator.get("/")).status).toBe(200);
    await env.DB.prepare("UPDATE api_tokens SET expires_at = ? WHERE id = ?")
      .bind(new Date(Date.now() - 1000).toISOString(), operator.tokenId)
      .run();
    expect((await operator.get("/")).status).toBe(303);
  });

  it("signs out with the session's CSRF token only", async () => {
    const b = await signedIn();
    expect((await b.post("/logout", {})).status).toBe(403);
    const res = await b.post("/logout", { _csrf: await b.csrf() });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login");
    expect(res.headers.getSetCookie().some((c) => c.startsWith("portcullis-session=;") && /Max-Age=0/.test(c))).toBe(true);
    expect((await b.get("/")).status).toBe(303);
  });
});

describe("dashboard: actions are CSRF-safe and role-aware", () => {
  it("refuses a queue action without the CSRF token, with a wrong one, from a foreign origin or with no origin at all", async () => {
    const item = spoolItem("queued");
    const b = await signedIn();
    const csrf = await b.csrf("/queues");
    const other = await (await signedIn()).csrf("/queues");
    const path = `/queues/edge-a/${item.deliveryId}/suspend`;
    const before = spoolCalls.length;
    expect((await b.post(path, { state: "queued" })).status).toBe(403);
    expect((await b.post(path, { state: "queued", _csrf: other })).status).toBe(403);
    expect((await b.post(path, { state: "queued", _csrf: csrf }, { origin: "https://evil.example" })).status).toBe(403);
    expect((await b.post(path, { state: "queued", _csrf: csrf }, { origin: null })).status).toBe(403);
    expect((await b.post(path, { state: "queued", _csrf: csrf }, { origin: "null", secFetchSite: "cross-site" })).status).toBe(403);
    expect(spoolCalls.length).toBe(before);
    expect(item.state).toBe("queued");

    // A same-origin form under Referrer-Policy: no-referrer arrives with Origin: null and Sec-Fetch-Site: same-origin.
    const res = await b.post(path, { state: "queued", _csrf: csrf }, { origin: "null", secFetchSite: "same-origin" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/queues?edge=edge-a&state=queued&done=suspend");
    expect(item.state).toBe("suspended");
  });

  it("shows a read-only session no action buttons, and refuses its POSTs", async () => {
    const item = spoolItem("queued");
    const reader = await withRole("read-only");
    const html = await (await reader.get("/queues?edge=edge-a&state=queued")).text();
    expect(html).toContain(item.deliveryId.slice(0, 8));
    expect(html).not.toContain("data-action=");
    const res = await reader.post(`/queues/edge-a/${item.deliveryId}/retry`, { _csrf: csrfIn(html) });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("This needs the operator role");
    expect(spoolCalls).not.toContain(`retry ${item.deliveryId}`);

    const operator = await withRole("operator");
    const page = await (await operator.get("/queues?edge=edge-a&state=queued")).text();
    expect(page).toContain('data-action="retry"');
    expect((await operator.post(`/queues/edge-a/${item.deliveryId}/retry`, { _csrf: csrfIn(page) })).status).toBe(303);
    expect(spoolCalls).toContain(`retry ${item.deliveryId}`);
  });
});

describe("dashboard: pages", () => {
  it("overview: the mail flow chart has a bar per outcome and hour, the edge converged, the hubs and the spools", async () => {
    const b = await signedIn();
    const html = await (await b.get("/")).text();
    const counts: Record<string, number> = {};
    for (const m of html.matchAll(/<rect class="bar bar-(\w+)" data-series="\w+" data-count="(\d+)"/g)) counts[m[1]!] = (counts[m[1]!] ?? 0) + Number(m[2]);
    // The trace's events are 30 hours old: outside the chart.
    expect(counts).toEqual({ accepted: 3, rejected: 2, quarantined: 1, spooled: 1 });
    expect(html).toContain("accepted 3");
    expect(html).toMatch(/<tr data-edge="edge-a">[\s\S]*?converged/);
    expect(html).toMatch(/<tr data-hub="hub">[\s\S]*?<\/tr>/);
    expect(html).toMatch(/id="spools"[\s\S]*?<tr data-edge="edge-a">/);
    expect(html).not.toMatch(/<script/i);
  });

  it("queues: every state's count, one state's messages with their actions, hostile subjects escaped", async () => {
    const b = await signedIn();
    const html = await (await b.get("/queues?edge=edge-a&state=queued")).text();
    expect(html).toContain(ESCAPED);
    expect(html).not.toMatch(/<script/i);
    expect(html).toMatch(/<tr data-delivery="[0-9a-f-]{36}">/);
    expect(html).toContain('data-action="suspend"');
    const dead = await (await b.get("/queues?edge=edge-a&state=dead")).text();
    expect(dead).toContain("expired");
    expect(dead).not.toContain('data-action="suspend"');
  });

  it("queues: delete needs a reason, and a conflicting action is refused with the edge's message", async () => {
    const item = spoolItem("dead");
    const b = await signedIn();
    const csrf = await b.csrf("/queues");
    expect((await b.post(`/queues/edge-a/${item.deliveryId}/delete`, { _csrf: csrf, reason: " " })).status).toBe(400);
    const conflict = await b.post(`/queues/edge-a/${item.deliveryId}/resume`, { _csrf: csrf });
    expect(conflict.status).toBe(409);
    expect(await conflict.text()).toContain("the message is dead");
    expect((await b.post(`/queues/edge-a/${item.deliveryId}/delete`, { _csrf: csrf, reason: "spam run", state: "dead" })).status).toBe(303);
    expect(spoolCalls).toContain(`delete ${item.deliveryId} spam run`);
    // The same audit log as the admin API's changes.
    const logged = await env.DB.prepare("SELECT actor_name, summary, object_id FROM audit_log WHERE object_id = ?").bind(item.deliveryId).first();
    expect(logged).toMatchObject({ actor_name: "bootstrap", summary: expect.stringMatching(/^dashboard: delete spooled message .* spam run$/) });
    expect((await b.post(`/queues/no-such-edge/${item.deliveryId}/retry`, { _csrf: csrf })).status).toBe(404);
  });

  it("quarantine: the list and the text-only preview, hostile subject and body escaped", async () => {
    const id = await quarantined();
    const b = await signedIn();
    const list = await (await b.get("/quarantine")).text();
    expect(list).toMatch(new RegExp(`<tr data-message="${id}">[\\s\\S]*?content-filter: spam \\(SCL 6\\)`));
    expect(list).toContain(ESCAPED);
    expect(list).not.toMatch(/<script/i);
    expect(list).toContain(`action="/quarantine/${id}/release"`);
    const filtered = await (await b.get("/quarantine?recipient=%40elsewhere.example")).text();
    expect(filtered).not.toContain(`data-message="${id}"`);

    const preview = await b.get(`/quarantine/${id}`);
    expect(preview.status).toBe(200);
    const html = await preview.text();
    expect(html).toMatch(/<pre class="preview preview-text">Hello &lt;b&gt;Alice&lt;\/b&gt;, &lt;script&gt;/);
    expect(html).toMatch(/<pre class="preview preview-headers">[\s\S]*?Subject: &lt;script&gt;/);
    expect(html).not.toMatch(/<script/i);
    expect((await b.get("/quarantine/999999")).status).toBe(404);
  });

  it("quarantine: release and delete through the forms, stamped with the token's name; a second action is refused", async () => {
    const [released, deleted] = [await quarantined("release me"), await quarantined("delete me")];
    const b = await signedIn();
    const csrf = await b.csrf("/quarantine");
    expect((await b.post(`/quarantine/${released}/release`, {})).status).toBe(403);
    expect((await getStoredMessage(env.DB, released))!.action).toBe("quarantine");

    const res = await b.post(`/quarantine/${released}/release`, { _csrf: csrf });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/quarantine?done=release");
    expect(await (await b.get("/quarantine?done=release")).text()).toContain("The message was released");
    expect(await getStoredMessage(env.DB, released)).toMatchObject({ action: "accept", releasedBy: "bootstrap" });
    expect(await (await b.get(`/quarantine/${released}`)).text()).toContain("released");

    expect((await b.post(`/quarantine/${deleted}/delete`, { _csrf: csrf })).status).toBe(303);
    expect((await getStoredMessage(env.DB, deleted))!.action).toBe("deleted");
    const audited = await env.DB.prepare("SELECT summary FROM audit_log WHERE object_id IN (?, ?) ORDER BY id").bind(String(released), String(deleted)).all();
    expect(audited.results.map((r) => r.summary)).toEqual([
      `dashboard: released quarantined message ${released}`,
      `dashboard: deleted quarantined message ${deleted}`,
    ]);
    const again = await b.post(`/quarantine/${deleted}/release`, { _csrf: csrf });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain("was deleted");
  });

  it("quarantine: a standby refuses release and delete (the mail is handed back to the primary and acted on there)", async () => {
    const id = await quarantined("held by a standby");
    const b = await signedIn();
    const csrf = await b.csrf("/quarantine");
    b.vars = { HUB_ROLE: "standby", HUB_ID: "hub-standby" };
    for (const verb of ["release", "delete"]) {
      const res = await b.post(`/quarantine/${id}/${verb}`, { _csrf: csrf });
      expect(res.status).toBe(409);
      expect(await res.text()).toContain("hub-standby) is a standby");
    }
    expect((await getStoredMessage(env.DB, id))!.action).toBe("quarantine");
  });

  it("quarantine: a read-only session sees no buttons and cannot release", async () => {
    const id = await quarantined("read-only view");
    const reader = await withRole("read-only");
    const html = await (await reader.get(`/quarantine/${id}`)).text();
    expect(html).not.toContain("data-action=");
    expect((await reader.post(`/quarantine/${id}/release`, { _csrf: csrfIn(html) })).status).toBe(403);
    expect((await getStoredMessage(env.DB, id))!.action).toBe("quarantine");
  });

  it("trace: a search by sender lists the events, and the delivery's page shows what the hub stored, escaped", async () => {
    const b = await signedIn();
    const html = await (await b.get(`/trace?${new URLSearchParams({ sender: "mallory@evil.example" })}`)).text();
    expect([...html.matchAll(/<tr data-event=/g)]).toHaveLength(2);
    expect(html).toContain(`href="/trace/${traced.deliveryId}"`);
    expect(html).toContain(ESCAPED);
    expect(html).not.toMatch(/<script/i);

    const byRecipient = await (await b.get(`/trace?${new URLSearchParams({ recipient: "alice@example.com", since: hoursAgo(1.5).slice(0, 16) })}`)).text();
    // One decision of each outcome an hour ago; the older ones are before `since`.
    expect([...byRecipient.matchAll(/<tr data-event=/g)]).toHaveLength(4);

    const trace = await b.get(`/trace/${traced.deliveryId}`);
    expect(trace.status).toBe(200);
    const page = await trace.text();
    expect(page).toContain(ESCAPED);
    expect(page).not.toMatch(/<script/i);
    expect(page).toMatch(/data-outcome="accepted"[\s\S]*data-outcome="delivered"/);
    expect((await b.get(`/trace/${crypto.randomUUID()}`)).status).toBe(404);
  });

  it("recipients: found by address, alias or prefix, with flags, and asked of every edge", async () => {
    const b = await signedIn();
    for (const q of ["alice@example.com", "a.smith@example.com", "Alice+news@Example.com", "a"]) {
      const html = await (await b.get(`/recipients?${new URLSearchParams({ q })}`)).text();
      expect(html).toContain('<tr data-recipient="alice@example.com">');
    }
    const domain = await (await b.get("/recipients?q=%40example.com")).text();
    expect([...domain.matchAll(/<tr data-recipient=/g)]).toHaveLength(2);
    expect(domain).toContain("internal only");
    expect(domain).toContain("SCL override 6");

    const lookup = await (await b.get(`/recipients?${new URLSearchParams({ q: "alice", address: "alice@example.com" })}`)).text();
    expect(lookup).toMatch(/<tr data-edge="edge-a" data-address="alice@example.com">[\s\S]*?accepted/);
    expect(lookup).toMatch(/<tr data-edge="edge-a" data-address="a.smith@example.com">[\s\S]*?accepted/);
    const unknown = await (await b.get(`/recipients?${new URLSearchParams({ address: "nobody@example.com" })}`)).text();
    expect(unknown).toContain("Not in the directory.");
    expect(unknown).toMatch(/<tr data-edge="edge-a" data-address="nobody@example.com">[\s\S]*?refused[\s\S]*?550 5\.1\.1/);

    const hostile = await (await b.get(`/recipients?${new URLSearchParams({ q: HOSTILE })}`)).text();
    expect(hostile).toContain(ESCAPED);
    expect(hostile).not.toMatch(/<script/i);
  });
});
