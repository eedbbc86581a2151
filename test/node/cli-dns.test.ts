import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/ports.ts";
import { checkDomainDns, type DnsReport } from "../../shared/dns/check.ts";
import { DohResolver } from "../../shared/dns/doh.ts";
import { dnsFixture } from "../integration/hub/dns-fixtures.ts";

/**
 * `portcullis dns-check` run as a child process, as an operator would run it: with `--local`
 * against a DNS-over-HTTPS server on this machine (the DNS of test/integration/hub/dns-fixtures.ts,
 * over real HTTP), and against a stand-in hub that answers GET /api/v1/domains/{domain}/dns with
 * reports made by the same shared check over that server. The hub's own route is tested in workerd
 * (test/integration/hub/dns.test.ts); this is about the command: its request, output and exit codes.
 */
const root = path.resolve(import.meta.dirname, "../..");
const node = path.join(root, "node_modules", ".bin", "node");
const TOKEN = "pc_cli-dns-test-token";
const ACCEPTED = new Set(["dns-plain.test", "dns-broken.test", "dns.servfail.test"]);

let work: string;
let doh: string;
let hub: string;
const servers: Server[] = [];
/** Every request the stand-in hub saw: method, path and Authorization header. */
const hubRequests: { method: string; path: string; authorization: string | undefined }[] = [];

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<string> {
  const server = createServer((req, res) => {
    handler(req, res).catch((error: unknown) => {
      res.writeHead(500).end(String(error));
    });
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function send(res: ServerResponse, answer: Response): Promise<void> {
  res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
  res.end(Buffer.from(await answer.arrayBuffer()));
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "portcullis-cli-dns-"));
  doh = `${await serve(async (req, res) => send(res, (await dnsFixture(new Request(`https://dns.test${req.url}`), "dns.test"))!))}/dns-query`;
  hub = await serve(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://hub");
    hubRequests.push({ method: req.method ?? "", path: url.pathname, authorization: req.headers.authorization });
    const match = /^\/api\/v1\/domains\/([^/]+)\/dns$/.exec(url.pathname);
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return send(res, Response.json({ error: { code: "unauthorized", message: "Invalid token." } }, { status: 401 }));
    if (match === null || !ACCEPTED.has(match[1]!)) {
      return send(res, Response.json({ error: { code: "not_found", message: `${match?.[1]} is not an accepted domain.` } }, { status: 404 }));
    }
    const report: DnsReport = await checkDomainDns(match[1]!, new DohResolver({ endpoint: doh, cache: null }));
    return send(res, Response.json(report));
  });
});

afterAll(async () => {
  for (const server of servers) server.close();
  await rm(work, { recursive: true, force: true });
});

/** Runs the CLI with no saved profile and no PORTCULLIS_* variables but those given. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PORTCULLIS_") && k !== "NO_COLOR"));
  return new Promise((resolve, reject) => {
    const child = spawn(node, ["cli/bin.js", ...args], { cwd: root, env: { ...base, XDG_CONFIG_HOME: work, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const viaHub = (args: string[], token = TOKEN) => cli(["dns-check", ...args], { PORTCULLIS_HUB: hub, PORTCULLIS_TOKEN: token });

describe("portcullis dns-check --local", () => {
  it("prints a table of the checks with their fixes, and exits 0 when there are only warnings", async () => {
    const run = await cli(["dns-check", "DNS-Plain.test.", "--local", "--doh", doh]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const lines = run.stdout.split("\n");
    expect(lines[0]).toMatch(new RegExp(`^dns-plain\\.test: warn \\(checked \\S+ from this machine via ${doh.replace(/[.:/]/g, "\\$&")}\\)$`));
    expect(lines[1]).toMatch(/^CHECK\s+STATUS\s+FOUND$/);
    expect(lines[2]).toMatch(/^mx\s+pass\s+3 MX records, all at Cloudflare Email Routing\.$/);
    expect(lines[3]).toMatch(/^spf\s+pass\s+One SPF record/);
    expect(lines[4]).toMatch(/^dmarc\s+pass\s+One DMARC record, p=quarantine/);
    expect(lines[5]).toMatch(/^mta-sts\s+warn\s+No MTA-STS record/);
    expect(lines[6]).toMatch(/^tls-rpt\s+warn\s+No TLS-RPT record/);
    expect(run.stdout).toMatch(/^To fix:\n {2}mta-sts: Add a CNAME record _mta-sts → _mta-sts\.mx\.cloudflare\.net/m);
    expect(run.stdout).toMatch(/^ {2}tls-rpt: Add a TXT record at _smtp\._tls/m);
    expect(run.stdout).toContain("  dns-plain.test MX 86 route1.mx.cloudflare.net");
    expect(run.stdout).toContain("  _dmarc.dns-plain.test TXT v=DMARC1; p=quarantine; rua=mailto:dmarc@dns-plain.test");
  });

  it("exits 2 when a check fails, with --json printing the report", async () => {
    const run = await cli(["dns-check", "dns-broken.test", "--local", "--doh", doh, "--json"]);
    expect(run.code).toBe(2);
    const report = JSON.parse(run.stdout) as DnsReport;
    expect(report).toMatchObject({ domain: "dns-broken.test", overall: "fail" });
    expect(report.checks.map((c) => [c.check, c.status])).toEqual([
      ["mx", "fail"],
      ["spf", "fail"],
      ["dmarc", "warn"],
      ["mta-sts", "warn"],
      ["tls-rpt", "warn"],
    ]);
  });

  it("exits 3, not 2, when the resolver answers SERVFAIL or cannot be reached, saying the fix once", async () => {
    const servfail = await cli(["dns-check", "dns.servfail.test", "--local", "--doh", doh]);
    expect(servfail.code).toBe(3);
    expect(servfail.stdout).toMatch(/^dns\.servfail\.test: unknown/);
    expect(servfail.stdout).toMatch(/^mx\s+error\s+The resolver could not be reached or did not answer/m);
    expect(servfail.stdout).toMatch(/^ {2}mx, spf, dmarc, mta-sts, tls-rpt: Nothing in the domain's DNS is known to be wrong/m);
    expect(servfail.stdout).not.toContain("Records found:");

    const closed = await freePort();
    const down = await cli(["dns-check", "dns-plain.test", "--local", "--doh", `http://127.0.0.1:${closed}/dns-query`, "--json"]);
    expect(down.code).toBe(3);
    const report = JSON.parse(down.stdout) as DnsReport;
    expect(report.overall).toBe("unknown");
    expect(report.checks.every((c) => c.status === "error")).toBe(true);
  });

  it("refuses bad arguments with exit 1", async () => {
    for (const [args, message] of [
      [["dns-check", "--local"], /expected DOMAIN, got nothing/],
      [["dns-check", "not a domain!", "--local"], /"not a domain!" is not a domain name/],
      [["dns-check", "example.com", "--doh", doh], /--doh needs --local/],
      [["dns-check", "example.com", "--local", "--doh", "ftp://dns.example/"], /--doh: DoH endpoint must be an http\(s\) URL/],
    ] as const) {
      const run = await cli([...args]);
      expect(run.code, args.join(" ")).toBe(1);
      expect(run.stderr).toMatch(message);
    }
  });
});

describe("portcullis dns-check through the hub", () => {
  it("asks the hub with the token and prints its report; exit 2 for a failed domain", async () => {
    hubRequests.length = 0;
    const run = await viaHub(["dns-broken.test"]);
    expect(run.code).toBe(2);
    expect(hubRequests).toEqual([{ method: "GET", path: "/api/v1/domains/dns-broken.test/dns", authorization: `Bearer ${TOKEN}` }]);
    expect(run.stdout).toMatch(/^dns-broken\.test: fail \(checked \S+ by the hub\)$/m);
    expect(run.stdout).toMatch(/^mx\s+fail\s+The MX records point elsewhere \(mx\.mailhost\.example\)/m);
    expect(run.stdout).toMatch(/^ {2}spf: Merge them into one TXT record/m);
    // Without a policy fetcher the stand-in hub checks the TXT record only.
    expect((await viaHub(["dns-plain.test"])).code).toBe(0);
    expect((await viaHub(["dns.servfail.test"])).code).toBe(3);
  });

  it("exits 2 with the hub's message for a domain it does not accept, or a bad token", async () => {
    const unknown = await viaHub(["elsewhere.test", "--json"]);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout)).toEqual({ error: { status: 404, code: "not_found", message: "elsewhere.test is not an accepted domain." } });
    const refused = await viaHub(["dns-plain.test"], "pc_wrong");
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/401 unauthorized\): Invalid token\./);
  });

  it("exits 3 when the hub cannot be reached, and 1 without a hub configured", async () => {
    const closed = await freePort();
    const down = await cli(["dns-check", "dns-plain.test"], { PORTCULLIS_HUB: `http://127.0.0.1:${closed}`, PORTCULLIS_TOKEN: TOKEN });
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/cannot reach the hub at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    const none = await cli(["dns-check", "dns-plain.test"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no hub configured/);
  });

  it("is in portcullis help with its exit codes", async () => {
    const help = await cli(["help"]);
    expect(help.stdout).toMatch(/^ {2}dns-check DOMAIN \[--local\]/m);
    const own = await cli(["help", "dns-check"]);
    expect(own.stdout).toContain("Usage: portcullis dns-check DOMAIN [--json]");
    expect(own.stdout).toMatch(/Exit codes: 0 every check passed or only warned; 2 a check failed/);
  });
});
