/**
 * The hub test project's outbound fetches (vitest.config.ts, `outboundService`), run by vitest in
 * Node. `https://webhook.test/…` is a webhook receiver for the onward tests, `https://<team>.cloudflareaccess.com`
 * an Access team for the Access tests, `https://dns.test/dns-query` and `https://mta-sts.<domain>/` DNS for
 * the DNS-check tests (dns-fixtures.ts); everything else goes to the third edge (EdgeSync over signed HTTPS).
 *
 * The receiver records every request under its path and answers by the path's last segment:
 *   …/ok        200
 *   …/fail-N    500 for the first N requests to that path, then 200
 *   …/always    500, every time
 *   …/redirect  307 to another URL
 *   …/slow-MS   200 after MS milliseconds
 * `GET https://webhook.test/_requests/<path>` answers the recorded requests to <path> as JSON
 * ({headers, body: base64}[]). Tests use a fresh path each, so files running side by side never
 * see each other's requests.
 */

import { dnsFixture } from "./dns-fixtures.ts";

/** What the outbound function is given besides the request: the Miniflare instance of the test file. */
interface MiniflareLike {
  getWorker(name: string): Promise<{ fetch(input: Request): Promise<Response> }>;
}

export interface RecordedRequest {
  method: string;
  headers: Record<string, string>;
  /** The body, base64. */
  body: string;
}

const recorded = new Map<string, RecordedRequest[]>();

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.byteLength; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

async function webhookReceiver(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname.startsWith("/_requests/")) return Response.json(recorded.get(url.pathname.slice("/_requests".length)) ?? []);
  const seen = recorded.get(url.pathname) ?? [];
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => (headers[name] = value));
  seen.push({ method: request.method, headers, body: base64(new Uint8Array(await request.arrayBuffer())) });
  recorded.set(url.pathname, seen);
  const behaviour = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
  const failFirst = /^fail-(\d+)$/.exec(behaviour);
  if (behaviour === "always" || (failFirst !== null && seen.length <= Number(failFirst[1])))
    return new Response("receiver down for maintenance", { status: 500 });
  const slow = /^slow-(\d+)$/.exec(behaviour);
  if (slow !== null) await new Promise((resolve) => setTimeout(resolve, Number(slow[1])));
  if (behaviour === "redirect") return new Response(null, { status: 307, headers: { location: "https://webhook.test/elsewhere/ok" } });
  return new Response("ok");
}

/**
 * Cloudflare Access teams for the Access tests (`https://<team>.cloudflareaccess.com`): a test
 * publishes its team's signing keys with `PUT /_test/keys` ({"keys": [JWK…]}); the hub fetches them
 * from `GET /cdn-cgi/access/certs`, as from Access itself; `GET /_test/fetches` says how often it did.
 * Tests use a team name each, so files running side by side never share keys.
 */
const accessTeams = new Map<string, { keys: unknown[]; fetches: number }>();

async function accessTeam(request: Request, host: string): Promise<Response> {
  const url = new URL(request.url);
  const team = accessTeams.get(host) ?? { keys: [], fetches: 0 };
  accessTeams.set(host, team);
  if (url.pathname === "/_test/keys" && request.method === "PUT") {
    team.keys = ((await request.json()) as { keys: unknown[] }).keys;
    return new Response(null, { status: 204 });
  }
  if (url.pathname === "/_test/fetches") return Response.json({ fetches: team.fetches });
  if (url.pathname === "/cdn-cgi/access/certs") {
    team.fetches++;
    return Response.json({ keys: team.keys, public_cert: { kid: "unused", cert: "" }, public_certs: [] });
  }
  return new Response("not found", { status: 404 });
}

/** The outbound function: `mf` is the test file's Miniflare instance (typed loosely: this module also compiles against workers types). */
export async function hubOutbound(request: Request, mf: unknown): Promise<Response> {
  const host = new URL(request.url).hostname;
  if (host === "webhook.test") return webhookReceiver(request);
  if (host.endsWith(".cloudflareaccess.com")) return accessTeam(request, host);
  const dns = dnsFixture(request, host);
  if (dns !== null) return dns;
  // A host that never answers: the network fails, as for an edge whose deployment is gone.
  if (host === "unreachable.test") throw new Error("connect ECONNREFUSED unreachable.test:443");
  return (await (mf as MiniflareLike).getWorker("portcullis-edge-3")).fetch(request);
}
