import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { sign } from "hono/jwt";
import type { HonoJsonWebKey } from "hono/utils/jwt/jws";
import { describe, expect, it } from "vitest";
import { app } from "../../../workers/hub/app.ts";
import { AccessKeyCache, accessSettings, verifyAccessJwt } from "../../../workers/hub/auth/access.ts";
import { ACCESS_KEYS_MIN_REFRESH_MS, ACCESS_KEYS_TTL_MS } from "../../../workers/hub/auth/limits.ts";

const AUD = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";

interface SigningKey {
  kid: string;
  privateJwk: HonoJsonWebKey;
  publicJwk: HonoJsonWebKey;
}

async function signingKey(): Promise<SigningKey> {
  const pair = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const kid = crypto.randomUUID();
  const privateJwk = { ...((await crypto.subtle.exportKey("jwk", pair.privateKey)) as HonoJsonWebKey), kid, alg: "RS256" };
  const publicJwk = { ...((await crypto.subtle.exportKey("jwk", pair.publicKey)) as HonoJsonWebKey), kid, alg: "RS256", use: "sig" };
  return { kid, privateJwk, publicJwk };
}

/** An Access team of its own for one test: its keys published where the hub fetches them (test/integration/hub/outbound.ts). */
async function accessTeam() {
  const team = `t${crypto.randomUUID().slice(0, 8)}`;
  const issuer = `https://${team}.cloudflareaccess.com`;
  const key = await signingKey();
  const publish = async (keys: HonoJsonWebKey[]) =>
    expect((await fetch(`${issuer}/_test/keys`, { method: "PUT", body: JSON.stringify({ keys }) })).status).toBe(204);
  await publish([key.publicJwk]);
  const now = Math.floor(Date.now() / 1000);
  const jwt = (claims: Record<string, unknown> = {}, with_ = key) =>
    sign({ iss: issuer, aud: [AUD], iat: now, nbf: now, exp: now + 600, email: "alice@example.com", sub: "7335d417", ...claims }, with_.privateJwk);
  const fetches = async () => ((await (await fetch(`${issuer}/_test/fetches`)).json()) as { fetches: number }).fetches;
  return { team, issuer, key, jwt, publish, fetches };
}

/** Calls the hub with Access configured for `team` (the vars the deployed hub would have). */
async function hub(team: string, path: string, init: { jwt?: string; token?: string | null; method?: string; aud?: string } = {}): Promise<Response> {
  const headers = new Headers();
  if (init.jwt !== undefined) headers.set("cf-access-jwt-assertion", init.jwt);
  const token = init.token === undefined ? env.ADMIN_TOKEN : init.token;
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  const ctx = createExecutionContext();
  const vars = { ...env, ACCESS_TEAM_DOMAIN: team, ACCESS_AUD: init.aud ?? AUD } as unknown as Env;
  const res = await app.fetch(new Request(`https://hub.example${path}`, { method: init.method ?? "GET", headers }), vars, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("Cloudflare Access in front of the admin API, its docs and the dashboard", () => {
  it("is off while ACCESS_TEAM_DOMAIN and ACCESS_AUD are empty", async () => {
    expect(env.ACCESS_TEAM_DOMAIN).toBe("");
    const res = await exports.default.fetch(new Request("http://hub/api/v1/domains", { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }));
    expect(res.status).toBe(200);
  });

  it("refuses the admin API, its docs and the dashboard without an assertion, bearer token or not", async () => {
    const { team } = await accessTeam();
    for (const path of [
      "/api/v1/domains",
      "/api/v1/tokens",
      "/api/v1/openapi.json",
      "/api/v1/docs",
      "/",
      "/login",
      "/queues",
      "/trace",
      "/recipients",
      "/no-such-page",
    ]) {
      const res = await hub(team, path);
      expect(res.status, path).toBe(403);
      expect(await res.json(), path).toMatchObject({ error: { code: "access_denied" } });
    }
  });

  it("lets a valid assertion through to the token check, which still applies", async () => {
    const { team, jwt } = await accessTeam();
    const assertion = await jwt();
    expect((await hub(team, "/api/v1/domains", { jwt: assertion })).status).toBe(200);
    expect((await hub(team, "/api/v1/domains", { jwt: assertion, token: null })).status).toBe(401);
    expect((await hub(team, "/api/v1/openapi.json", { jwt: assertion, token: null })).status).toBe(200);
    expect((await hub(team, "/api/v1/docs", { jwt: assertion, token: null })).status).toBe(200);
    // The dashboard, past Access, asks for its own sign-in.
    expect((await hub(team, "/login", { jwt: assertion, token: null })).status).toBe(200);
    expect((await hub(team, "/", { jwt: assertion, token: null })).status).toBeLessThan(400);
  });

  it("leaves health probes and the signed edge paths to their own rules", async () => {
    const { team } = await accessTeam();
    expect((await hub(team, "/api/v1/health", { token: null })).status).toBe(200);
    expect((await hub(team, "/healthz", { token: null })).status).toBe(200);
    expect((await hub(team, "/_portcullis/ping", { token: null })).status).toBe(401);
  });

  it("refuses assertions for another audience or issuer, expired, not yet valid, signed with another key, altered, or not RS256", async () => {
    const { team, jwt, key } = await accessTeam();
    const other = await signingKey();
    const now = Math.floor(Date.now() / 1000);
    const valid = await jwt();
    const [header, payload, signature] = valid.split(".");
    const altered = `${header}.${btoa(JSON.stringify({ ...JSON.parse(atob(payload!.replace(/-/g, "+").replace(/_/g, "/"))), email: "mallory@example.com" })).replace(/=+$/, "")}.${signature}`;
    const cases: [string, string][] = [
      ["another audience", await jwt({ aud: ["someone-else"] })],
      ["another issuer", await jwt({ iss: "https://evil.cloudflareaccess.com" })],
      ["expired", await jwt({ exp: now - 10 })],
      ["not yet valid", await jwt({ nbf: now + 600 })],
      ["signed with an unknown key", await jwt({}, other)],
      ["signed with another key under the team's key id", await jwt({}, { ...other, privateJwk: { ...other.privateJwk, kid: key.kid } })],
      ["altered after signing", altered],
      ["HMAC-signed", await sign({ iss: `https://${team}.cloudflareaccess.com`, aud: [AUD], exp: now + 600 }, "secret", "HS256")],
      ["without an expiry", await jwt({ exp: undefined })],
      ["not a JWT", "not.a.jwt"],
    ];
    for (const [what, assertion] of cases) {
      const res = await hub(team, "/api/v1/domains", { jwt: assertion });
      expect(res.status, what).toBe(403);
      expect(await res.json(), what).toMatchObject({ error: { code: "access_denied" } });
    }
    expect((await hub(team, "/api/v1/domains", { jwt: valid })).status).toBe(200);
  });

  it("fetches the team's keys once and keeps them", async () => {
    const { team, jwt, fetches } = await accessTeam();
    const assertion = await jwt();
    for (let i = 0; i < 5; i++) expect((await hub(team, "/api/v1/domains", { jwt: assertion })).status).toBe(200);
    expect(await fetches()).toBe(1);
  });

  it("records who Access let in with each change", async () => {
    const { team, jwt } = await accessTeam();
    expect((await hub(team, "/api/v1/domains/access-audit.test", { method: "PUT", jwt: await jwt({ email: "carol@example.com" }) })).status).toBe(201);
    const row = await env.DB.prepare("SELECT access_identity, actor_id FROM audit_log WHERE object_id = 'access-audit.test'").first();
    expect(row).toEqual({ access_identity: "carol@example.com", actor_id: "bootstrap" });
  });

  it("refuses every request while only one of the two settings is set", async () => {
    const res = await hub("", "/api/v1/domains", { aud: AUD });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: "not_configured" } });
  });
});

describe("Access settings and keys", () => {
  it("takes the team as a name, a host or a URL", () => {
    for (const team of ["acme", "acme.cloudflareaccess.com", "https://ACME.cloudflareaccess.com/"]) {
      expect(accessSettings({ ACCESS_TEAM_DOMAIN: team, ACCESS_AUD: AUD })).toEqual({ issuer: "https://acme.cloudflareaccess.com", audience: AUD });
    }
    expect(accessSettings({ ACCESS_TEAM_DOMAIN: "", ACCESS_AUD: "" })).toBeNull();
    expect(() => accessSettings({ ACCESS_TEAM_DOMAIN: "not a team!", ACCESS_AUD: AUD })).toThrow(/ACCESS_TEAM_DOMAIN/);
  });

  it("fetches again on an unknown key id, but not more often than the minimum interval, and after the TTL", async () => {
    const first = await signingKey();
    const rotated = await signingKey();
    let published = [first.publicJwk];
    const fetched: string[] = [];
    const cache = new AccessKeyCache(async (url) => {
      fetched.push(url);
      return published;
    });
    const settings = { issuer: "https://acme.cloudflareaccess.com", audience: AUD };
    const at = Date.now();
    const token = (key: SigningKey) =>
      sign({ iss: settings.issuer, aud: AUD, exp: Math.floor(at / 1000) + 3600 * 3, iat: Math.floor(at / 1000) - 60 }, key.privateJwk);

    await expect(verifyAccessJwt(await token(first), settings, cache, at)).resolves.toMatchObject({ identity: "unknown" });
    expect(fetched).toEqual(["https://acme.cloudflareaccess.com/cdn-cgi/access/certs"]);

    // Access rotates: a token under the new key id is refused until the keys may be fetched again.
    published = [first.publicJwk, rotated.publicJwk];
    await expect(verifyAccessJwt(await token(rotated), settings, cache, at + 1_000)).rejects.toMatchObject({ status: 403 });
    expect(fetched).toHaveLength(1);
    await expect(verifyAccessJwt(await token(rotated), settings, cache, at + ACCESS_KEYS_MIN_REFRESH_MS)).resolves.toBeDefined();
    expect(fetched).toHaveLength(2);

    // Known keys are used until the TTL, then fetched again.
    await verifyAccessJwt(await token(first), settings, cache, at + ACCESS_KEYS_MIN_REFRESH_MS + 1_000);
    expect(fetched).toHaveLength(2);
    await verifyAccessJwt(await token(first), settings, cache, at + ACCESS_KEYS_MIN_REFRESH_MS + ACCESS_KEYS_TTL_MS);
    expect(fetched).toHaveLength(3);
  });

  it("keeps using the keys it holds when a fetch fails, and refuses with 503 when it holds none", async () => {
    const key = await signingKey();
    let up = true;
    const cache = new AccessKeyCache(async () => {
      if (!up) throw new Error("connect ECONNREFUSED");
      return [key.publicJwk];
    });
    const settings = { issuer: "https://acme.cloudflareaccess.com", audience: AUD };
    const at = Date.now();
    const token = await sign({ iss: settings.issuer, aud: AUD, exp: Math.floor(at / 1000) + 3600 * 3 }, key.privateJwk);
    await verifyAccessJwt(token, settings, cache, at);
    up = false;
    await expect(verifyAccessJwt(token, settings, cache, at + ACCESS_KEYS_TTL_MS)).resolves.toBeDefined();

    const empty = new AccessKeyCache(async () => {
      throw new Error("connect ECONNREFUSED");
    });
    await expect(verifyAccessJwt(token, settings, empty, at)).rejects.toMatchObject({ status: 503 });
  });
});
