import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseManifest } from "../../../shared/directory/manifest.ts";
import type { EdgeDirectoryApi } from "../../../shared/directory/publish-api.ts";
import { hubBlobs } from "../../../workers/hub/sync/build.ts";
import { api } from "./helpers.ts";

const put = (name: string, body: unknown) => api(`/api/v1/policies/${name}`, { method: "PUT", body: typeof body === "string" ? body : JSON.stringify(body) });

describe("policies API", () => {
  it("stores a valid policy, answers 201 then 200, and lists which are set", async () => {
    expect((await put("thresholds", { reject: 7, quarantine: 5, tag: 3 })).status).toBe(201);
    expect((await put("thresholds", { reject: 8, quarantine: 5, tag: 3 })).status).toBe(200);
    const one = (await (await api("/api/v1/policies/thresholds")).json()) as { name: string; body: unknown };
    expect(one).toMatchObject({ name: "thresholds", body: { reject: 8, quarantine: 5, tag: 3 } });
    const list = (await (await api("/api/v1/policies")).json()) as { items: { name: string; set: boolean }[] };
    expect(list.items.find((p) => p.name === "thresholds")?.set).toBe(true);
    expect(list.items.find((p) => p.name === "hubs")?.set).toBe(false);
  });

  it.each([
    ["an invalid document", "thresholds", { reject: 12, quarantine: 5, tag: 3 }, 400, "invalid_policy"],
    ["malformed JSON", "thresholds", "{", 400, "bad_request"],
    ["an unknown policy", "favourite-colour", { colour: "blue" }, 404, "not_found"],
  ])("answers %s with a JSON error", async (_, name, body, status, code) => {
    const res = await put(name, body);
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error: { code } });
  });

  it("deletes a policy (back to defaults), 404 when it was not set", async () => {
    await put("attachments", { blockedExtensions: ["exe"], blockedContentTypes: [], blockEncryptedArchives: false, blockMacros: true });
    expect((await api("/api/v1/policies/attachments", { method: "DELETE" })).status).toBe(204);
    expect((await api("/api/v1/policies/attachments", { method: "DELETE" })).status).toBe(404);
    expect((await api("/api/v1/policies/attachments")).status).toBe(404);
  });

  it("needs the token", async () => {
    expect((await exports.default.fetch(new Request("http://hub/api/v1/policies"))).status).toBe(401);
  });

  it("syncs policies to the edges, with per-recipient safe senders keyed by hash", async () => {
    await api("/api/v1/edges/edge-a", { method: "PUT", body: JSON.stringify({ transport: "binding", binding: "EDGE" }) });
    expect((await put("safe-senders", { global: ["@partner.example"], perRecipient: { "alice@example.com": ["mum@family.example"] } })).status).toBe(201);
    const report = (await (await api("/api/v1/sync", { method: "POST" })).json()) as { root: string };
    expect((await (env.EDGE as unknown as EdgeDirectoryApi).status()).current?.root).toBe(report.root);
    const blobs = hubBlobs(env);
    const manifest = parseManifest((await blobs.get(report.root))!);
    const policy = new TextDecoder().decode((await blobs.get(manifest.policies["safe-senders"]!))!);
    expect(policy).toContain("partner.example");
    expect(policy).toContain("mum@family.example");
    expect(policy).not.toContain("alice");
    expect(Object.keys(manifest.policies)).toContain("thresholds");
  });
});
