import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { EDGE_DIRECTORY_PATH, httpEdgeDirectory } from "../../../shared/directory/publish-http.ts";
import { signRequest, SIGNATURE_WINDOW_SECONDS, verifyRequest } from "../../../shared/signing.ts";
import { handleSignedDirectory } from "../../../workers/edge/publish-http.ts";
import { edgeDirectory, publish, snapshotOf } from "../../helpers/edge-directory.ts";

const KEY = env.SYNC_SIGNING_KEY;
const URL_ = `https://edge.example.com${EDGE_DIRECTORY_PATH}`;
const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

async function signed(body: Uint8Array, options: { key?: string; now?: number; tamper?: boolean } = {}): Promise<Request> {
  const headers = await signRequest(options.key ?? KEY, "POST", EDGE_DIRECTORY_PATH, body, options.now);
  const sent = options.tamper ? encode({ method: "acquire", args: ["mallory", 60_000] }) : body;
  return new Request(URL_, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: sent });
}

describe("signed EdgeSync over HTTPS", () => {
  it("serves the EdgeSync methods to a correctly signed request", async () => {
    const res = await exports.default.fetch(await signed(encode({ method: "status", args: [] })));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ edgeId: env.EDGE_ID, lease: null });
  });

  it("publishes a whole snapshot through the HTTPS client", async () => {
    const snap = await snapshotOf({ domains: ["example.com"], recipients: ["ivy@example.com"] });
    const client = httpEdgeDirectory("https://edge.example.com", KEY, (input, init) => exports.default.fetch(new Request(input as URL, init)));
    const result = await publish(snap, "https-hub", client);
    expect(result).toMatchObject({ status: "committed", root: snap.root });
    expect((await client.lookup("ivy@example.com")).accepted).toBe(true);
    expect((await edgeDirectory().status()).current?.root).toBe(snap.root);
  });

  it.each([
    ["a tampered body", { tamper: true }, /bad_signature/],
    ["another key", { key: "some-other-signing-key-0123456789" }, /bad_signature/],
    ["a clock 6 minutes fast", { now: Date.now() + (SIGNATURE_WINDOW_SECONDS + 60) * 1000 }, /outside_window/],
    ["a clock 6 minutes slow", { now: Date.now() - (SIGNATURE_WINDOW_SECONDS + 60) * 1000 }, /outside_window/],
  ])("refuses %s with 401", async (_, options, reason) => {
    // With `tamper`, a harmless status call is signed and a lease grab is sent in its place.
    const body = encode("tamper" in options ? { method: "status", args: [] } : { method: "acquire", args: ["mallory", 60_000] });
    const res = await exports.default.fetch(await signed(body, options));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(reason);
    expect((await edgeDirectory().status()).lease?.holder).not.toBe("mallory");
  });

  it("refuses a replayed request", async () => {
    const request = await signed(encode({ method: "status", args: [] }));
    const replay = request.clone();
    expect((await exports.default.fetch(request)).status).toBe(200);
    const res = await exports.default.fetch(replay);
    expect(res.status).toBe(401);
    expect(await res.text()).toMatch(/nonce already used/);
  });

  it("refuses unsigned requests, wrong methods and malformed calls", async () => {
    expect((await exports.default.fetch(new Request(URL_, { method: "POST", body: "{}" }))).status).toBe(401);
    expect((await exports.default.fetch(new Request(URL_))).status).toBe(405);
    const bad = await exports.default.fetch(await signed(encode({ method: "dropTables", args: [] })));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: "bad_request" } });
  });

  it("is disabled (404) on an edge without a signing key", async () => {
    const res = await handleSignedDirectory(await signed(encode({ method: "status", args: [] })), { ...env, SYNC_SIGNING_KEY: "" }, edgeDirectory());
    expect(res.status).toBe(404);
  });

  it("binds the signature to the path", async () => {
    const body = encode({ method: "status", args: [] });
    const headers = new Headers(await signRequest(KEY, "POST", "/somewhere-else", body));
    expect(await verifyRequest(KEY, "POST", EDGE_DIRECTORY_PATH, headers, body)).toEqual({ ok: false, reason: "bad_signature" });
  });
});
