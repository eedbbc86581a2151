import { env, exports } from "cloudflare:workers";
import { Hono } from "hono";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../../../workers/hub/app.ts";
import { onError } from "../../../workers/hub/api/errors.ts";
import { route, router } from "../../../workers/hub/api/openapi.ts";
import type { HubEnv } from "../../../workers/hub/app.ts";
import { dashboard } from "../../../workers/hub/dashboard/index.ts";
import { type Role, ROLES, roleAllows } from "../../../workers/hub/auth/roles.ts";
import { api } from "./helpers.ts";
import { expiredToken, type IssuedToken, issueToken, revokedToken, sha256Hex } from "./tokens-helpers.ts";

/**
 * Walks every admin route — as the OpenAPI document lists them and as the app has them mounted —
 * and proves the token and role rules on each one.
 */

interface Parameter {
  name: string;
  in: string;
  schema?: { example?: unknown; default?: unknown };
}

interface Operation {
  method: string;
  path: string;
  role: Role;
  parameters: Parameter[];
}

/** Routes that need no token, each for a reason: health probes and the API's own description. */
const PUBLIC = new Set(["GET /healthz", "GET /api/v1/health", "GET /api/v1/openapi.json", "GET /api/v1/docs"]);
/** Routes outside the admin API with their own authentication: the edges' signed requests, and the dashboard's pages (session login). */
const ownAuth = (method: string, path: string): boolean =>
  path.startsWith("/_portcullis/") || dashboard.routes.some((r) => r.method === method && r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}") === path);

async function documented(): Promise<Operation[]> {
  const doc = (await (await exports.default.fetch(new Request("http://hub/api/v1/openapi.json"))).json()) as {
    paths: Record<string, Record<string, { "x-portcullis-role": Role; parameters?: Parameter[] }>>;
  };
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, role: op["x-portcullis-role"], parameters: op.parameters ?? [] })),
  );
}

/** The operation's path with its documented example values filled in. */
function concrete(op: Operation): string {
  let path = op.path;
  for (const p of op.parameters.filter((p) => p.in === "path")) path = path.replace(`{${p.name}}`, encodeURIComponent(String(p.schema?.example ?? "x")));
  expect(path, `${op.method} ${op.path} has a path parameter without an example`).not.toMatch(/[{}]/);
  return path;
}

function call(op: Operation, token: string | null): Promise<Response> {
  return api(concrete(op), { method: op.method, token });
}

let operations: Operation[];
const tokens = {} as Record<Role, IssuedToken>;
let revoked: IssuedToken;
let expired: IssuedToken;

beforeAll(async () => {
  operations = await documented();
  for (const role of ROLES) tokens[role] = await issueToken(role, { name: `walk ${role}` });
  revoked = await revokedToken();
  expired = await expiredToken();
});

describe("every admin route", () => {
  it("is in the OpenAPI document, and every documented operation is a mounted route", () => {
    const mounted = new Set(
      app.routes
        .filter((r) => r.method !== "ALL")
        .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`)
        .filter((r) => !PUBLIC.has(r)),
    );
    const inDocument = new Set(operations.map((o) => `${o.method} ${o.path}`));
    for (const r of mounted) {
      const [method, path] = r.split(" ") as [string, string];
      if (ownAuth(method, path)) continue;
      // Prometheus scrapes /metrics by convention: the one admin route outside /api/v1, token and role checked alike.
      expect(path, `${r} is outside the admin API and not listed as public`).toMatch(/^\/(api\/v1\/|metrics$)/);
      expect(inDocument, `${r} is mounted but missing from the OpenAPI document`).toContain(r);
    }
    for (const o of inDocument) expect(mounted, `${o} is documented but not mounted`).toContain(o);
    expect(inDocument.size).toBeGreaterThan(30);
  });

  it("answers 401 without a token, with a malformed one, a revoked one and an expired one", async () => {
    for (const op of operations) {
      for (const [what, token] of [
        ["no token", null],
        ["an unknown token", "pc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
        ["a revoked token", revoked.token],
        ["an expired token", expired.token],
      ] as const) {
        const res = await call(op, token);
        expect(res.status, `${op.method} ${op.path} with ${what}`).toBe(401);
        expect(await res.json()).toMatchObject({ error: { code: "unauthorized" } });
      }
    }
  });

  it("enforces exactly the documented role: 403 for every lower role, allowed for it and every higher one", async () => {
    for (const op of operations) {
      expect(ROLES, `${op.method} ${op.path}`).toContain(op.role);
      for (const role of ROLES) {
        const res = await call(op, tokens[role].token);
        const where = `${op.method} ${op.path} with a ${role} token (needs ${op.role})`;
        if (roleAllows(role, op.role)) {
          expect([401, 403], where).not.toContain(res.status);
        } else {
          expect(res.status, where).toBe(403);
          expect(await res.json(), where).toMatchObject({ error: { code: "forbidden" } });
        }
      }
    }
  });

  it("lets read-only tokens read everything, and only read", () => {
    for (const op of operations) {
      if (op.method === "GET" && !op.path.startsWith("/api/v1/tokens") && op.path !== "/api/v1/audit") expect(op.role, op.path).toBe("read-only");
      if (op.method !== "GET") expect(op.role, `${op.method} ${op.path}`).not.toBe("read-only");
    }
  });

  it("keeps configuration, tokens and the audit log for admins", () => {
    const admin = operations.filter(
      (o) => /^\/api\/v1\/(domains|recipients|policies|edges|tokens|audit)/.test(o.path) && (o.method !== "GET" || /tokens|audit/.test(o.path)),
    );
    expect(admin.length).toBeGreaterThan(10);
    for (const op of admin) expect(op.role, `${op.method} ${op.path}`).toBe("admin");
  });
});

describe("tokens at rest", () => {
  it("stores no token in clear anywhere in D1, only its SHA-256", async () => {
    const issued = await issueToken("operator", { name: "at rest" });
    const secret = issued.token.slice(3);
    const { results: tables } = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
    ).all<{
      name: string;
    }>();
    expect(tables.map((t) => t.name)).toContain("api_tokens");
    for (const { name } of tables) {
      const { results } = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
      expect(JSON.stringify(results), name).not.toContain(secret);
      expect(JSON.stringify(results), name).not.toContain(env.ADMIN_TOKEN);
    }
    const row = await env.DB.prepare("SELECT token_hash FROM api_tokens WHERE id = ?").bind(issued.id).first<{ token_hash: string }>();
    expect(row!.token_hash).toBe(await sha256Hex(issued.token));
  });

  it("compares the bootstrap token in constant time, over digests of equal length whatever the length presented", async () => {
    const spy = vi.spyOn(crypto.subtle, "timingSafeEqual");
    try {
      for (const token of [env.ADMIN_TOKEN, env.ADMIN_TOKEN.slice(0, -1), `${env.ADMIN_TOKEN}x`, "short"]) {
        spy.mockClear();
        await api("/api/v1/domains", { token });
        expect(spy, token.length.toString()).toHaveBeenCalled();
        for (const [a, b] of spy.mock.calls as [ArrayBuffer, ArrayBuffer][]) {
          expect(a.byteLength).toBe(32);
          expect(b.byteLength).toBe(32);
        }
      }
    } finally {
      spy.mockRestore();
    }
  });

  it("finds a stored token by its hash and confirms it in constant time", async () => {
    const issued = await issueToken("read-only");
    const spy = vi.spyOn(crypto.subtle, "timingSafeEqual");
    try {
      expect((await api("/api/v1/domains", { token: issued.token })).status).toBe(200);
      // The bootstrap comparison, then the stored hash against the presented token's.
      expect(spy).toHaveBeenCalledTimes(2);
    } finally {
      spy.mockRestore();
    }
  });
});

describe("route()", () => {
  it("fails closed: a router mounted where no token is checked allows nothing", async () => {
    const things = router();
    things.openapi(route("read-only", { method: "get", path: "/", responses: { 200: { description: "ok" } } }), (c) => c.body(null, 200));
    const bare = new Hono<HubEnv>();
    bare.onError(onError);
    bare.route("/things", things);
    const res = await bare.request("/things", {}, env);
    expect(res.status).toBe(401);
  });
});
