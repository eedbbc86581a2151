import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../cli/main.ts";

/** What the stand-in edge saw, and what it answers next. */
const seen: { url: string; headers: IncomingMessage["headers"]; body: string }[] = [];
let reply: { status: number; body: unknown; headers?: Record<string, string> } = { status: 200, body: {} };
let server: Server;
let edge = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  edge = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

const ACCEPTED = {
  status: "accepted",
  messageId: "<m1@example.com>",
  deliveryId: "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
  recipients: [
    { address: "alice@example.com", route: "internal", status: "delivered", via: "hub" },
    { address: "p@partner.example", route: "external", status: "sent", via: "send_email" },
  ],
  dkim: [{ domain: "example.com", selector: "s1", algorithm: "ed25519-sha256" }],
};

describe("portcullis relay-test", () => {
  it("posts a JSON message with the key and prints each recipient's outcome (exit 0)", async () => {
    reply = { status: 200, body: ACCEPTED };
    const { code, out } = await cli(
      "relay-test",
      "--edge",
      edge,
      "--key",
      "pcr_k",
      "--from",
      "app@example.com",
      "--to",
      "alice@example.com",
      "--to",
      "p@partner.example",
      "--idempotency-key",
      "k-1",
    );
    expect(code).toBe(0);
    const request = seen.at(-1)!;
    expect(request.url).toBe("/v1/relay");
    expect(request.headers.authorization).toBe("Bearer pcr_k");
    expect(request.headers["idempotency-key"]).toBe("k-1");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(request.body)).toMatchObject({
      from: "app@example.com",
      to: ["alice@example.com", "p@partner.example"],
      subject: expect.stringMatching(/^Portcullis relay test/),
    });
    expect(out[0]).toBe("accepted: <m1@example.com> (delivery id 0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9)");
    expect(out.join("\n")).toMatch(/delivered +alice@example.com \(internal via hub\)/);
    expect(out.join("\n")).toMatch(/DKIM: ed25519-sha256 d=example.com s=s1/);
  });

  it("sends a file as message/rfc822 with --to as the envelope, and prints the answer as JSON", async () => {
    reply = { status: 200, body: ACCEPTED };
    const dir = await mkdtemp(path.join(tmpdir(), "portcullis-relay-"));
    const file = path.join(dir, "m.eml");
    await writeFile(file, "From: app@example.com\r\nTo: list@example.com\r\n\r\nhi\r\n");
    const { code, out } = await cli("relay-test", "--edge", edge, "--key", "pcr_k", "--file", file, "--to", "alice@example.com", "--json");
    expect(code).toBe(0);
    expect(seen.at(-1)).toMatchObject({ url: "/v1/relay?to=alice%40example.com", body: "From: app@example.com\r\nTo: list@example.com\r\n\r\nhi\r\n" });
    expect(seen.at(-1)!.headers["content-type"]).toBe("message/rfc822");
    expect(JSON.parse(out[0]!)).toEqual({ status: 200, body: ACCEPTED });
  });

  it.each([
    [401, { error: { code: "unauthorized", message: "The API key is not valid." } }, {}, 2, /refused \(HTTP 401 unauthorized\)/],
    [
      429,
      { error: { code: "rate_limited", message: "slow down" } },
      { "retry-after": "12" },
      3,
      /deferred \(HTTP 429 rate_limited\): slow down — retry after 12 s/,
    ],
    [
      503,
      { error: { code: "unavailable", message: "later" }, recipients: [{ address: "a@x.example", route: "external", status: "deferred" }] },
      {},
      3,
      /deferred/,
    ],
  ])("exits by the answer: HTTP %i", async (status, body, headers, exit, line) => {
    reply = { status, body, headers };
    const { code, out } = await cli("relay-test", "--edge", edge, "--key", "pcr_k", "--from", "app@example.com", "--to", "a@x.example");
    expect(code).toBe(exit);
    expect(out[0]).toMatch(line);
  });

  it("exits 2 when a recipient was refused although others were accepted", async () => {
    reply = {
      status: 200,
      body: {
        ...ACCEPTED,
        status: "partial",
        recipients: [{ address: "nobody@example.com", route: "internal", status: "rejected", code: "unknown_recipient" }],
      },
    };
    const { code, out } = await cli("relay-test", "--edge", edge, "--key", "pcr_k", "--from", "app@example.com", "--to", "nobody@example.com");
    expect(code).toBe(2);
    expect(out[0]).toMatch(/^partly accepted/);
  });

  it("needs a key and a sender and recipient, and says so (exit 64)", async () => {
    delete process.env.PORTCULLIS_RELAY_KEY;
    const noKey = await cli("relay-test", "--edge", edge, "--from", "app@example.com", "--to", "a@example.com");
    expect(noKey.code).toBe(64);
    expect(noKey.err.join("\n")).toMatch(/API key/);
    expect((await cli("relay-test", "--edge", edge, "--key", "k", "--from", "app@example.com")).code).toBe(64);
  });

  it("exits 1 when no edge answers", async () => {
    const { code, err } = await cli("relay-test", "--edge", "http://127.0.0.1:9", "--key", "k", "--from", "app@example.com", "--to", "a@example.com");
    expect(code).toBe(1);
    expect(err[0]).toMatch(/No answer from the edge/);
  });
});
