import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { main } from "../../cli/main.ts";
import { headerFrom } from "../../cli/scan.ts";
import { buildMessage } from "../helpers/mail.ts";

const root = path.resolve(import.meta.dirname, "../..");

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

async function tempFiles(files: Record<string, string>): Promise<Record<string, string>> {
  const dir = await mkdtemp(path.join(tmpdir(), "portcullis-cli-"));
  const paths: Record<string, string> = {};
  for (const [name, content] of Object.entries(files)) {
    paths[name] = path.join(dir, name);
    await writeFile(paths[name], content);
  }
  return paths;
}

describe("portcullis scan", () => {
  it("prints one JSON object per message with the contract's fields, file as given", async () => {
    const f = await tempFiles({
      "a.eml": buildMessage({ subject: "one" }),
      "policy.json": JSON.stringify({ domains: ["example.com"], recipients: ["alice@example.com"] }),
    });
    const { code, out } = await cli("scan", f["a.eml"]!, "test/fixtures/welcome.eml", "--to", "alice@example.com", "--policy", f["policy.json"]!, "--json");
    expect(code).toBe(0);
    expect(out).toHaveLength(2);
    const [first, second] = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(Object.keys(first!).sort()).toEqual(["action", "agents", "file", "scl", "smtp"]);
    expect(first).toMatchObject({ file: f["a.eml"], action: "accept", scl: expect.any(Number), smtp: "250 2.0.0 OK" });
    expect(first!.scl as number).toBeLessThan(5);
    expect(second).toMatchObject({ file: "test/fixtures/welcome.eml", action: "accept" });
    const names = (first!.agents as { agent: string }[]).map((a) => a.agent);
    expect(names[0]).toBe("limits");
    expect(names.indexOf("recipient-filter")).toBeLessThan(names.indexOf("parse"));
  });

  it("gives the edge's answers for unknown recipients and foreign domains", async () => {
    const f = await tempFiles({ "policy.json": JSON.stringify({ domains: ["example.com"], recipients: ["alice@example.com"] }) });
    const unknown = await cli("scan", "test/fixtures/welcome.eml", "--to", "nobody@example.com", "--policy", f["policy.json"]!, "--json");
    expect(JSON.parse(unknown.out[0]!)).toMatchObject({ action: "reject", smtp: expect.stringMatching(/^550 5\.1\.1 /) });
    const relay = await cli("scan", "test/fixtures/welcome.eml", "--to", "x@elsewhere.example", "--policy", f["policy.json"]!, "--json");
    expect(JSON.parse(relay.out[0]!)).toMatchObject({ action: "reject", smtp: expect.stringMatching(/^550 5\.7\.1 /) });
    expect(unknown.code).toBe(0); // a verdict is a success, whatever it is
  });

  it("takes recipient objects with aliases and flags in the policy file", async () => {
    const f = await tempFiles({
      "policy.json": JSON.stringify({
        domains: ["example.com"],
        recipients: [
          { address: "ops@example.com", aliases: ["noc@example.com"], rejectInternet: true },
          { address: "dan@example.com", aliases: ["d@example.com"] },
        ],
      }),
    });
    const alias = await cli("scan", "test/fixtures/welcome.eml", "--to", "d@example.com", "--policy", f["policy.json"]!, "--json");
    expect(JSON.parse(alias.out[0]!)).toMatchObject({ action: "accept" });
    const internal = await cli("scan", "test/fixtures/welcome.eml", "--to", "noc@example.com", "--policy", f["policy.json"]!, "--json");
    expect(JSON.parse(internal.out[0]!)).toMatchObject({ action: "reject", smtp: expect.stringMatching(/^550 5\.7\.1 /) });
    const bad = await tempFiles({ "p.json": JSON.stringify({ recipients: [{ address: "x@example.com", sclOverride: 12 }] }) });
    expect((await cli("scan", "test/fixtures/welcome.eml", "--policy", bad["p.json"]!)).code).toBe(64);
  });

  it("skips recipient validation without --to, and without --policy", async () => {
    const noTo = await cli("scan", "test/fixtures/welcome.eml", "--json");
    const agents = (JSON.parse(noTo.out[0]!) as { agents: { agent: string; result: string }[] }).agents;
    expect(agents.find((a) => a.agent === "recipient-filter")?.result).toBe("skip");
    const noPolicy = await cli("scan", "test/fixtures/welcome.eml", "--to", "anyone@anywhere.example", "--json");
    expect(JSON.parse(noPolicy.out[0]!)).toMatchObject({ action: "accept" });
  });

  it("gives malformed input a verdict and reports unreadable files with exit 1", async () => {
    const f = await tempFiles({ "huge-header.eml": `Subject: x\r\nX-Pad: ${"p".repeat(1_100_000)}\r\n\r\nbody` });
    const { code, out } = await cli("scan", f["huge-header.eml"]!, "/nonexistent/file.eml", "--json");
    expect(code).toBe(1);
    expect(JSON.parse(out[0]!)).toMatchObject({ action: "reject", smtp: expect.stringMatching(/^552 5\.3\.4 /) });
    expect(JSON.parse(out[1]!)).toMatchObject({ file: "/nonexistent/file.eml", error: expect.stringMatching(/ENOENT/) });
  });

  it("prints a readable line per message without --json", async () => {
    const { out } = await cli("scan", "test/fixtures/welcome.eml");
    const [summary, agents] = out.join("\n").split("\n");
    expect(summary).toMatch(/^test\/fixtures\/welcome\.eml: ACCEPT scl=[0-4] 250 2\.0\.0 OK$/);
    expect(agents).toMatch(/^ {2}limits pass · /);
    expect(agents).toContain(" · recipient-filter skip (no directory loaded) · ");
    expect(agents).toContain(" · parse pass");
  });

  it("answers usage mistakes with exit 64 and a hint", async () => {
    expect((await cli("scan")).code).toBe(64);
    const bad = await cli("scan", "x.eml", "--nope");
    expect(bad.code).toBe(64);
    expect(bad.err.join("\n")).toMatch(/--help/);
    const policy = await tempFiles({ "p.json": "{not json" });
    expect((await cli("scan", "test/fixtures/welcome.eml", "--policy", policy["p.json"]!)).code).toBe(64);
    expect((await cli("frobnicate")).code).toBe(64);
  });

  it("takes the envelope sender from the From: header when --from is absent", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(headerFrom(enc("From: Alice <alice@example.net>\r\n\r\nbody"))).toBe("alice@example.net");
    expect(headerFrom(enc("Subject: x\r\nfrom: bob@example.org (Bob)\r\n\r\n"))).toBe("bob@example.org");
    expect(headerFrom(enc("From:\r\n <folded@example.com>\r\n\r\n"))).toBe("folded@example.com");
    expect(headerFrom(enc("Subject: none\r\n\r\nFrom: body@example.com"))).toBe("");
  });
});

describe("portcullis send", () => {
  it("needs the envelope and says what is missing", async () => {
    const { code, err } = await cli("send", "test/fixtures/welcome.eml", "--to", "alice@example.com");
    expect(code).toBe(64);
    expect(err.join("\n")).toMatch(/--from and --to/);
  });

  it("explains an unreachable edge with exit 1", async () => {
    const { code, err } = await cli(
      "send",
      "test/fixtures/welcome.eml",
      "--from",
      "a@example.net",
      "--to",
      "alice@example.com",
      "--edge",
      "http://127.0.0.1:9",
    );
    expect(code).toBe(1);
    expect(err.join("\n")).toMatch(/No answer from the edge.*\n.*npm start/);
  });
});

describe("the portcullis executable", () => {
  it("runs from the checkout on the project's Node", async () => {
    const node = path.join(root, "node_modules", ".bin", "node");
    const { stdout } = await promisify(execFile)(node, ["cli/bin.js", "scan", "test/fixtures/welcome.eml", "--json"], { cwd: root });
    expect(JSON.parse(stdout.trim())).toMatchObject({ file: "test/fixtures/welcome.eml", action: "accept" });
  });
});
