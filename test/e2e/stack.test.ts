import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchStack, type LaunchedStack } from "../../scripts/launch.ts";
import { freePort, portFree } from "../../scripts/ports.ts";

/**
 * The newcomer's path, end to end: `npm start` (scripts/start.ts) on free ports with a fresh state
 * directory, the printed command pasted into a shell, mail through Cloudflare's local email
 * endpoint, messages fetched back from the hub's API, Ctrl-C, and a second start on the same state.
 */
const root = path.resolve(import.meta.dirname, "../..");
const bin = path.join(root, "node_modules", ".bin");
const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`, FORCE_COLOR: "0" };
const exec = promisify(execFile);

const startStack = (edgePort: number, hubPort: number, state: string): Promise<LaunchedStack> => launchStack({ edgePort, hubPort, state, timeoutMs: 150_000 });

describe("npm start → send → fetch back", () => {
  let edgePort: number;
  let hubPort: number;
  let state: string;
  let stack: LaunchedStack | undefined;
  let edge: string;
  let hub: string;
  let token: string;

  beforeAll(async () => {
    edgePort = await freePort();
    hubPort = await freePort();
    while (hubPort === edgePort) hubPort = await freePort();
    state = await mkdtemp(path.join(tmpdir(), "portcullis-e2e-"));
    stack = await startStack(edgePort, hubPort, state);
    edge = `http://localhost:${edgePort}`;
    hub = `http://localhost:${hubPort}`;
    token = /^\s*Admin token\s+([0-9a-f]{64})\s*$/m.exec(stack.output())?.[1] ?? "";
  });

  afterAll(async () => {
    if (stack !== undefined && stack.child.exitCode === null) await stack.stop().catch(() => stack?.child.kill("SIGKILL"));
    await rm(state, { recursive: true, force: true });
  });

  const email = (to: string, body: Uint8Array<ArrayBuffer> | string, format = ""): Promise<Response> =>
    fetch(`${edge}/cdn-cgi/local/email?${new URLSearchParams({ from: "sender@example.net", to })}${format}`, { method: "POST", body });

  it("prints the edge URL, the hub URL, the admin token (from workers/hub/.dev.vars) and a send command", async () => {
    const out = stack!.output();
    expect(out).toContain(`Edge (Email Routing target)  ${edge}`);
    expect(out).toContain(`Hub and admin API            ${hub}/api/v1`);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(await readFile(path.join(root, "workers/hub/.dev.vars"), "utf8")).toContain(`ADMIN_TOKEN=${token}`);
    expect(out).toMatch(/Directory\s+version \d+ at edge-local, 2 addresses/);
  });

  it("accepts the pasted command's message for alice@", async () => {
    const command = /^\s*(curl -sS -X POST '[^\n]*--data-binary @test\/fixtures\/welcome\.eml)\s*$/m.exec(stack!.output())?.[1];
    expect(command).toBeDefined();
    const { stdout } = await exec("bash", ["-c", `${command} -w '\\n%{http_code}'`], { cwd: root });
    expect(stdout.trim()).toMatch(/Worker successfully processed email\s*\n200$/);
  });

  it("answers 400 with 5.1.1 for nobody@example.com", async () => {
    const res = await email("nobody@example.com", new Uint8Array(await readFile(path.join(root, "test/fixtures/welcome.eml"))));
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/550 5\.1\.1 /);
  });

  it("answers 400 with 5.7.1 for a domain that is not accepted", async () => {
    const res = await email("someone@not-accepted.example", new Uint8Array(await readFile(path.join(root, "test/fixtures/welcome.eml"))));
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/550 5\.7\.1 /);
  });

  it("delivers through `portcullis send` to bob@", async () => {
    const { stdout } = await exec(
      path.join(bin, "node"),
      ["cli/bin.js", "send", "test/fixtures/welcome.eml", "--from", "sender@example.net", "--to", "bob@example.com", "--edge", edge],
      { cwd: root, env },
    );
    expect(stdout).toMatch(/^accepted: bob@example\.com/);
  });

  it("serves the accepted messages byte for byte from the hub's API, with the token only", async () => {
    expect((await fetch(`${hub}/api/v1/messages`)).status).toBe(401);
    const res = await fetch(`${hub}/api/v1/messages`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: { id: number; to: string[]; subject: string; size: number }[] };
    expect(items.map((m) => m.to[0]).sort()).toEqual(["alice@example.com", "bob@example.com"]);
    const fixture = await readFile(path.join(root, "test/fixtures/welcome.eml"));
    for (const m of items) {
      expect(m.subject).toBe("Welcome to Portcullis");
      const raw = await fetch(`${hub}/api/v1/messages/${m.id}/raw`, { headers: { authorization: `Bearer ${token}` } });
      expect(Buffer.from(await raw.arrayBuffer()).equals(fixture)).toBe(true);
    }
  });

  it("enforces a recipient added through the admin API at the edge within seconds", async () => {
    const fixture = new Uint8Array(await readFile(path.join(root, "test/fixtures/welcome.eml")));
    expect((await email("carol@example.com", fixture)).status).toBe(400);
    const started = performance.now();
    const added = await fetch(`${hub}/api/v1/recipients`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify([{ address: "carol@example.com" }]),
    });
    expect(added.status).toBe(200);
    let status = 0;
    while (performance.now() - started < 10_000) {
      status = (await email("carol@example.com", fixture)).status;
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    // The debounced sync runs ~300 ms after the change; 5 s is the promise to operators.
    expect(performance.now() - started).toBeLessThan(5_000);
    const edges = (await (await fetch(`${hub}/api/v1/edges`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      items: { id: string; converged: boolean }[];
    };
    expect(edges.items).toEqual([expect.objectContaining({ id: "edge-local", converged: true })]);
  });

  it("stops everything on Ctrl-C and reuses the state on the next start", async () => {
    expect(await stack!.stop()).toBe(0);
    expect(await portFree(edgePort)).toBe(true);
    expect(await portFree(hubPort)).toBe(true);

    stack = await startStack(edgePort, hubPort, state);
    const res = await fetch(`${hub}/api/v1/messages`, { headers: { authorization: `Bearer ${token}` } });
    const { items } = (await res.json()) as { items: unknown[] };
    expect(items).toHaveLength(3);
    // The directory survived too: mail for alice@ is still accepted straight away.
    const again = await email("alice@example.com", new Uint8Array(await readFile(path.join(root, "test/fixtures/welcome.eml"))));
    expect(again.status).toBe(200);
  });
});
