import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi } from "../../scripts/admin-api.ts";
import { killWorker, launchStack, type LaunchedStack, restartWorker } from "../../scripts/launch.ts";
import { freePort } from "../../scripts/ports.ts";

/**
 * The standby hub end to end: `npm start -- --standby` on free ports with a fresh state folder.
 * The primary hub's process is SIGKILLed in the middle of a stream of messages; the edge keeps
 * answering 200 (delivered to the standby, or spooled), the standby syncs the edge while the
 * primary is down, and once the primary is restarted the standby hands every message it took
 * back — so the primary ends up with every accepted Message-ID exactly once.
 */
const root = path.resolve(import.meta.dirname, "../..");

/** Messages sent before the primary dies, and while it is down. */
const BEFORE = 8;
const DURING = 12;
/** How long the hand-back and the spool may take to bring everything to the primary. */
const DRAIN_TIMEOUT_MS = 60_000;

interface StandbyReport {
  primary: { up: boolean; hubId?: string; error?: string };
  restored: { key: string; root: string; verified: boolean } | null;
  handBack: { handedBack: number; duplicates: number; failed: number; remaining: number } | null;
  sync: { root: string | null; edges: { id: string; status: string }[] } | null;
}

/** `portcullis ARGS --json` against a hub (PORTCULLIS_HUB / PORTCULLIS_TOKEN), as an operator runs it. */
function cli<T>(hub: string, token: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) =>
    execFile(
      path.join(root, "node_modules", ".bin", "node"),
      ["cli/bin.js", ...args, "--json"],
      { cwd: root, env: { ...process.env, PORTCULLIS_HUB: hub, PORTCULLIS_TOKEN: token, PORTCULLIS_PROFILE: "" } },
      (err, stdout, stderr) =>
        err === null ? resolve(JSON.parse(stdout) as T) : reject(new Error(`portcullis ${args.join(" ")}: ${String(err)} ${stdout} ${stderr}`)),
    ),
  );
}

describe("standby hub failover (npm start -- --standby)", () => {
  let stack: LaunchedStack | undefined;
  let state: string;
  let fixture: string;
  let edge: string;
  let primary: string;
  let standby: string;
  let token: string;

  const call = <T>(origin: string, method: string, apiPath: string, body?: unknown): Promise<T> => adminApi<T>(origin, token, method, apiPath, body);
  const standbyRound = () => call<StandbyReport>(standby, "POST", "/backups/standby/run");
  /** The welcome fixture under its own Message-ID, through the edge's local email endpoint. */
  const send = (messageId: string): Promise<Response> =>
    fetch(`${edge}/cdn-cgi/local/email?${new URLSearchParams({ from: "sender@example.net", to: "alice@example.com" })}`, {
      method: "POST",
      body: fixture.replace(/^Message-ID: .*$/m, `Message-ID: <${messageId}>`),
    });
  /** Every Message-ID the primary stored, with how many times (all pages). */
  const primaryMessageIds = async (): Promise<Map<string, number>> => {
    const seen = new Map<string, number>();
    let cursor: string | null = null;
    do {
      const page: { items: { messageId: string | null }[]; nextCursor: string | null } = await call(
        primary,
        "GET",
        `/messages?limit=100${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      for (const m of page.items) {
        if (m.messageId === null) continue;
        const id = m.messageId.replace(/^<|>$/g, "");
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      cursor = page.nextCursor;
    } while (cursor !== null);
    return seen;
  };

  beforeAll(async () => {
    const free = new Set<number>();
    while (free.size < 3) free.add(await freePort());
    const [edgePort, hubPort, standbyPort] = [...free];
    state = await mkdtemp(path.join(tmpdir(), "portcullis-e2e-failover-"));
    fixture = await readFile(path.join(root, "test/fixtures/welcome.eml"), "utf8");
    stack = await launchStack({ edgePort: edgePort!, hubPort: hubPort!, state, standby: true, standbyPort: standbyPort!, timeoutMs: 170_000 });
    edge = stack!.banner.edges[0]!.url;
    primary = stack!.banner.hub;
    standby = stack!.banner.standby!;
    token = stack!.banner.token;
  });

  afterAll(async () => {
    if (stack !== undefined && stack.child.exitCode === null) await stack.stop().catch(() => stack?.child.kill("SIGKILL"));
    await rm(state, { recursive: true, force: true });
  });

  it("loses and duplicates nothing when the primary hub's process is killed mid-stream", async () => {
    // Changes on the primary — a recipient, and spool retries within seconds rather than a minute so
    // the test stays short — synced to the edge and exported; the standby follows the export (the
    // SCR "log replay").
    await call(primary, "POST", "/recipients", [{ address: "failover@example.com" }]);
    await call(primary, "PUT", "/policies/delivery", { retryBaseSeconds: 1, retryMaxSeconds: 5, breakerOpenSeconds: 5 });
    await call(primary, "POST", "/sync");
    const exported = await cli<{ key: string; root: string; written: boolean }>(primary, token, ["backup", "create"]);
    expect(exported.key).toMatch(/^exports\/hub-local\//);
    const listed = await cli<{ exports: { key: string; root: string }[] }>(standby, token, ["backup", "list", "--hub", "hub-local"]);
    expect(listed.exports[0]).toMatchObject({ key: exported.key, root: exported.root });
    const following = await standbyRound();
    expect(following.primary).toMatchObject({ up: true, hubId: "hub-local" });
    expect(following.restored).toMatchObject({ key: exported.key, verified: true });
    expect(following.sync).toBeNull();
    // The standby refuses directory writes: they belong to the primary.
    const refused = await fetch(`${standby}/api/v1/recipients`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify([{ address: "nope@example.com" }]),
    });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("standby");

    // A stream of messages; the primary's process dies in the middle of it.
    const accepted: string[] = [];
    const sendOne = async (id: string): Promise<void> => {
      const res = await send(id);
      expect(res.status, `${id}: ${await res.clone().text()}`).toBe(200);
      accepted.push(id);
    };
    for (let i = 0; i < BEFORE; i++) await sendOne(`before-${i}@failover.test`);
    await Promise.all([killWorker(stack!, "hub"), sendOne("as-it-dies@failover.test")]);
    for (let i = 0; i < DURING; i++) await sendOne(`during-${i}@failover.test`);

    // The standby sees the primary down and keeps the edge in sync itself, with the export's data.
    const whileDown = await standbyRound();
    expect(whileDown.primary.up).toBe(false);
    expect(whileDown.sync?.edges.map((e) => [e.id, ["committed", "unchanged"].includes(e.status)])).toEqual([[stack!.banner.edges[0]!.id, true]]);
    expect(whileDown.sync?.root).toBe(exported.root);
    const edges = await call<{ items: { id: string; root: string | null; lastSuccessAt: string | null }[] }>(standby, "GET", "/edges");
    expect(edges.items[0]).toMatchObject({ root: exported.root });
    expect(edges.items[0]!.lastSuccessAt).not.toBeNull();
    // The standby holds the mail it took for the primary.
    const held = await cli<{ held: number; role: string; primary: { up: boolean } }>(standby, token, ["backup", "standby"]);
    expect(held.primary.up).toBe(false);
    expect(held.role).toBe("standby");
    expect(held.held).toBeGreaterThan(0);

    // The primary comes back; the standby hands back what it held, the edge's spool drains.
    await restartWorker(stack!, "hub");
    let ids = new Map<string, number>();
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    for (;;) {
      const round = await standbyRound();
      ids = await primaryMessageIds();
      if (round.primary.up && round.handBack?.remaining === 0 && accepted.every((id) => ids.has(id))) break;
      if (Date.now() > deadline) throw new Error(`not drained: ${JSON.stringify(round)}; missing ${accepted.filter((id) => !ids.has(id)).join(", ")}`);
      // The edge's spool retries on its queue with backoff; its cron probes the hubs.
      await fetch(`${edge}/cdn-cgi/handler/scheduled`).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 2_000));
    }
    const status = await call<{ held: number; handedBack: number }>(standby, "GET", "/backups/standby");
    expect(status.held).toBe(0);
    expect(status.handedBack).toBe(held.held);

    console.log(JSON.stringify({ failover: { accepted: accepted.length, heldByStandby: held.held, handedBack: status.handedBack, atPrimary: ids.size } }));
    // Every accepted message is at the primary exactly once; nothing was lost.
    expect(accepted).toHaveLength(BEFORE + 1 + DURING);
    for (const id of accepted) expect(ids.get(id), id).toBe(1);
  });
});
