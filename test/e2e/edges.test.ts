import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi } from "../../scripts/admin-api.ts";
import { killWorker, launchStack, type LaunchedStack, restartWorker } from "../../scripts/launch.ts";
import { freePort, portFree } from "../../scripts/ports.ts";

/**
 * Several edge deployments and a standby hub in the local stack: `npm start -- --edges 2 --standby`
 * on free ports with a fresh state folder. Each edge is its own `wrangler dev` process with its
 * own KV namespace and lease object; the hub registers both (the first by service binding, the
 * second by signed HTTPS), keeps them on one root hash, and both take mail for it.
 */
const root = path.resolve(import.meta.dirname, "../..");

interface EdgeList {
  root: string;
  items: { id: string; reportedEdgeId: string | null; root: string | null; version: number | null; converged: boolean; transport: string }[];
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  return ports;
}

describe("npm start -- --edges 2 --standby", () => {
  let stack: LaunchedStack | undefined;
  let state: string;
  let ports: { edge: number; edge2: number; hub: number; standby: number };
  let hub: string;
  let token: string;
  let fixture: string;

  const api = <T>(method: string, apiPath: string, body?: unknown): Promise<T> => adminApi<T>(hub, token, method, apiPath, body);
  /** The welcome fixture under its own Message-ID, through one edge's local email endpoint. */
  const send = (edge: string, to: string, messageId: string): Promise<Response> =>
    fetch(`${edge}/cdn-cgi/local/email?${new URLSearchParams({ from: "sender@example.net", to })}`, {
      method: "POST",
      body: fixture.replace(/^Message-ID: .*$/m, `Message-ID: <${messageId}>`),
    });
  const edgeUrls = (): string[] => stack!.banner.edges.map((e) => e.url);

  beforeAll(async () => {
    const [edge, edge2, hubPort, standby] = await distinctFreePorts(4);
    ports = { edge: edge!, edge2: edge2!, hub: hubPort!, standby: standby! };
    state = await mkdtemp(path.join(tmpdir(), "portcullis-e2e-edges-"));
    fixture = await readFile(path.join(root, "test/fixtures/welcome.eml"), "utf8");
    stack = await launchStack({
      edgePort: ports.edge,
      hubPort: ports.hub,
      state,
      edges: 2,
      edgePorts: [ports.edge2],
      standby: true,
      standbyPort: ports.standby,
      timeoutMs: 170_000,
    });
    hub = stack.banner.hub;
    token = stack.banner.token;
  });

  afterAll(async () => {
    if (stack !== undefined && stack.child.exitCode === null) await stack.stop().catch(() => stack?.child.kill("SIGKILL"));
    await rm(state, { recursive: true, force: true });
  });

  it("prints every edge, the hub, the standby hub and the admin token, and lists every worker process", () => {
    const out = stack!.output();
    expect(out).toContain(`Edge (Email Routing target)  http://localhost:${ports.edge}`);
    expect(out).toContain(`Edge edge-local-2            http://localhost:${ports.edge2}`);
    expect(out).toContain(`Standby hub                  http://localhost:${ports.standby}`);
    expect(out).toContain(`Hub and admin API            http://localhost:${ports.hub}/api/v1`);
    expect(out).toMatch(/Directory\s+version \d+ at edge-local, 2 addresses/);
    expect(stack!.banner).toMatchObject({
      edges: [
        { id: "edge-local", url: `http://localhost:${ports.edge}` },
        { id: "edge-local-2", url: `http://localhost:${ports.edge2}` },
      ],
      hub: `http://localhost:${ports.hub}`,
      standby: `http://localhost:${ports.standby}`,
    });
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const processes = stack!.processes();
    expect(processes.map((p) => [p.key, p.worker, p.port, p.running])).toEqual([
      ["hub", "portcullis-hub", ports.hub, true],
      ["edge", "portcullis-edge", ports.edge, true],
      ["edge-2", "portcullis-edge-2", ports.edge2, true],
      ["hub-standby", "portcullis-hub-standby", ports.standby, true],
    ]);
    for (const p of processes) expect(() => process.kill(p.pid!, 0)).not.toThrow();
  });

  it("registers both edges at the hub, each its own deployment, converged on the hub's root", async () => {
    const edges = await api<EdgeList>("GET", "/edges");
    expect(edges.items.map((e) => [e.id, e.transport, e.reportedEdgeId, e.converged])).toEqual([
      ["edge-local", "binding", "edge-local", true],
      ["edge-local-2", "https", "edge-local-2", true],
    ]);
    for (const e of edges.items) expect(e.root).toBe(edges.root);
  });

  it("brings both edges to the new root after a recipient is added, and both take mail for it", async () => {
    const before = await api<EdgeList>("GET", "/edges");
    await api("POST", "/recipients", [{ address: "carol@example.com" }]);
    const report = await api<{ root: string; edges: { id: string; status: string }[] }>("POST", "/sync");
    expect(report.root).not.toBe(before.root);
    expect(report.edges.map((e) => e.id).sort()).toEqual(["edge-local", "edge-local-2"]);
    for (const e of report.edges) expect(["committed", "unchanged"]).toContain(e.status);

    const after = await api<EdgeList>("GET", "/edges");
    expect(after.root).toBe(report.root);
    expect(after.items.map((e) => [e.id, e.root, e.converged])).toEqual([
      ["edge-local", report.root, true],
      ["edge-local-2", report.root, true],
    ]);
    // Each edge holds its own copy: a KV namespace and a lease object per deployment, so their
    // versions are counted separately even though their data is identical.
    expect(after.items.every((e) => e.version !== null && e.version >= 1)).toBe(true);

    for (const [i, edge] of edgeUrls().entries()) {
      const accepted = await send(edge, "carol@example.com", `carol-${i}@example.net`);
      expect(accepted.status, await accepted.clone().text()).toBe(200);
      const refused = await send(edge, "nobody@example.com", `nobody-${i}@example.net`);
      expect(refused.status).toBe(400);
      expect(await refused.text()).toMatch(/550 5\.1\.1 /);
    }
  });

  it("stores the mail both edges accepted at the hub, each message marked with its edge", async () => {
    const { items } = await api<{ items: { to: string[]; edgeId: string; messageId: string }[] }>("GET", "/messages");
    const carol = items.filter((m) => m.to[0] === "carol@example.com").map((m) => [m.messageId, m.edgeId]);
    expect(carol.sort()).toEqual([
      ["<carol-0@example.net>", "edge-local"],
      ["<carol-1@example.net>", "edge-local-2"],
    ]);
  });

  it("runs the standby hub as its own deployment with its own database", async () => {
    const res = await fetch(`${stack!.banner.standby}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", hubId: "hub-standby" });
    const primary = (await (await fetch(`${hub}/healthz`)).json()) as { hubId: string };
    expect(primary.hubId).toBe("hub-local");
  });

  it("kills one worker process while the rest of the stack runs on, and restarts it on the same port and state", async () => {
    const [edge1, edge2] = edgeUrls() as [string, string];
    const pid = stack!.processes().find((p) => p.key === "edge-2")!.pid!;
    await killWorker(stack!, "edge-2");
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await portFree(ports.edge2)).toBe(true);
    expect(stack!.processes().find((p) => p.key === "edge-2")!.running).toBe(false);
    expect((await send(edge1, "alice@example.com", "while-edge-2-down@example.net")).status).toBe(200);

    await restartWorker(stack!, "edge-2");
    const restarted = stack!.processes().find((p) => p.key === "edge-2")!;
    expect(restarted.running).toBe(true);
    expect(restarted.pid).not.toBe(pid);
    // Its KV and lease object survived: the directory is there at once, without a sync.
    const edges = await api<EdgeList>("GET", "/edges");
    expect(edges.items.find((e) => e.id === "edge-local-2")).toMatchObject({ converged: true });
    expect((await send(edge2, "carol@example.com", "after-restart@example.net")).status).toBe(200);
  });

  it("kills the hub as a crash would, and its restart is bound again by both edges", async () => {
    const pid = stack!.processes().find((p) => p.key === "hub")!.pid!;
    await killWorker(stack!, "hub");
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await portFree(ports.hub)).toBe(true);
    // The edges still take mail (for the standby, or into their spool).
    for (const [i, edge] of edgeUrls().entries()) expect((await send(edge, "alice@example.com", `hub-down-${i}@example.net`)).status).toBe(200);

    await restartWorker(stack!, "hub");
    expect((await fetch(`${hub}/healthz`)).status).toBe(200);
    // The restarted hub took the killed one's place in the dev registry: mail reaches it directly.
    for (const [i, edge] of edgeUrls().entries()) expect((await send(edge, "alice@example.com", `hub-back-${i}@example.net`)).status).toBe(200);
    const { items } = await api<{ items: { messageId: string }[] }>("GET", "/messages");
    expect(items.map((m) => m.messageId)).toEqual(expect.arrayContaining(["<hub-back-0@example.net>", "<hub-back-1@example.net>"]));
  });

  it("stops every worker process, the restarted ones too, on Ctrl-C", async () => {
    const pids = stack!.processes().map((p) => p.pid!);
    expect(await stack!.stop()).toBe(0);
    for (const p of Object.values(ports)) expect(await portFree(p)).toBe(true);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
