import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { HubHealthReport } from "../../../shared/delivery/health.ts";
import type { EdgeControlApi } from "../../../shared/directory/publish-api.ts";
import { collectMetrics } from "../../../workers/hub/metrics/collect.ts";
import { escapeLabelValue, Exposition } from "../../../workers/hub/metrics/exposition.ts";
import { currentSnapshot } from "../../../workers/hub/sync/build.ts";
import { edgeClient } from "../../../workers/hub/sync/edge-client.ts";
import type { TrackingEventWire } from "../../../workers/hub/tracking/event.ts";
import { insertEvents } from "../../../workers/hub/tracking/ingest.ts";
import { seedDirectory } from "./directory-seed.ts";
import { writeState } from "../../../workers/hub/backup/state.ts";
import { storeDelivery } from "../../../workers/hub/mailbox.ts";
import { api, testDelivery } from "./helpers.ts";
import { issueToken } from "./tokens-helpers.ts";
import { wireEvent } from "./tracking-events.ts";

/**
 * GET /metrics: Prometheus text built from message tracking, the edges table and the edges' live
 * answers. The document is parsed here the way a Prometheus server reads it, and each value is
 * checked against what was seeded.
 */

interface Family {
  type: string;
  help: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

/** A strict reader of the text format 0.0.4: every line is a HELP, a TYPE or a sample of a declared family. */
function parse(text: string): Map<string, Family> {
  expect(text.endsWith("\n")).toBe(true);
  const families = new Map<string, Family>();
  let current: string | null = null;
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta !== null) {
      const [, what, name, rest] = meta as unknown as [string, string, string, string];
      const family = families.get(name) ?? { type: "", help: "", samples: [] };
      if (what === "HELP") family.help = rest;
      else family.type = rest;
      families.set(name, family);
      current = name;
      continue;
    }
    const m = SAMPLE.exec(line);
    expect(m, `not a sample line: ${line}`).not.toBeNull();
    const [, name, labelText = "", raw] = m as unknown as [string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < labelText.length) {
      const l = LABEL.exec(labelText);
      expect(l, `bad labels in ${line}`).not.toBeNull();
      labels[l![1]!] = unescape(l![2]!);
    }
    const family = name.replace(/_(bucket|sum|count)$/, "");
    const owner = families.get(name) ?? families.get(family);
    expect(owner, `${name} has no # TYPE`).toBeDefined();
    expect([name, family], `${name} is not with its family`).toContain(current);
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    expect(Number.isNaN(value) && raw !== "NaN", `bad value in ${line}`).toBe(false);
    owner!.samples.push({ name, labels, value });
  }
  for (const [name, f] of families) {
    expect(name).toMatch(/^portcullis_/);
    expect(["gauge", "counter", "histogram"], name).toContain(f.type);
    expect(f.help.length, name).toBeGreaterThan(0);
  }
  return families;
}

/** The value of one sample whose labels include `labels`; undefined when there is none. */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.get(name.replace(/_(bucket|sum|count)$/, "")) ?? families.get(name);
  return family?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function scrape(query = ""): Promise<Map<string, Family>> {
  const res = await api(`/metrics${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return parse(await res.text());
}

/** A decision of edge-m unless told otherwise. */
const event = (overrides: Partial<TrackingEventWire>): TrackingEventWire => wireEvent({ edgeId: "edge-m", ...overrides });

describe("GET /metrics", () => {
  it("needs a token: 401 without one or with a wrong one, 200 with a read-only token, in the Prometheus text format", async () => {
    for (const token of [null, "pc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]) {
      const res = await api("/metrics", { token });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await res.json()).toMatchObject({ error: { code: "unauthorized" } });
    }
    const readOnly = await issueToken("read-only", { name: "prometheus" });
    const res = await api("/metrics", { token: readOnly.token });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const families = parse(await res.text());
    expect(value(families, "portcullis_metrics_window_seconds")).toBe(300);
    expect(families.get("portcullis_scl")?.type).toBe("histogram");
  });

  it("counts messages by edge, verdict and outcome, agent results and the SCL histogram within the window", async () => {
    const edgeId = `edge-${crypto.randomUUID().slice(0, 8)}`;
    const before = await scrape();
    const agentFails = value(before, "portcullis_agent_results", { agent: "content-filter", result: "fail" }) ?? 0;
    const sclCount = value(before, "portcullis_scl_count") ?? 0;
    const sclAtMost5 = value(before, "portcullis_scl_bucket", { le: "5" }) ?? 0;
    const hour = new Date(Date.now() - 3_600_000).toISOString();
    await insertEvents(env.DB, [
      event({ edgeId, scl: 0 }),
      event({ edgeId, scl: 2 }),
      event({
        edgeId,
        action: "reject",
        outcome: "rejected",
        smtp: "550 5.7.1 …",
        scl: 9,
        agents: [{ agent: "content-filter", result: "fail", reason: "spam" }],
      }),
      event({ edgeId, action: "quarantine", outcome: "quarantined", scl: 6, agents: [{ agent: "content-filter", result: "fail", reason: "spam" }] }),
      event({ edgeId, action: "accept", outcome: "spooled", scl: -1 }),
      event({ edgeId, kind: "spool", action: null, outcome: "retry", scl: null, agents: [], round: 2 }),
      // Outside the default window (five minutes), inside a two-hour one.
      event({ edgeId, at: hour, scl: 3 }),
    ]);
    const after = await scrape();
    expect(value(after, "portcullis_messages", { edge: edgeId, verdict: "accept", outcome: "accepted" })).toBe(2);
    expect(value(after, "portcullis_messages", { edge: edgeId, verdict: "reject", outcome: "rejected" })).toBe(1);
    expect(value(after, "portcullis_messages", { edge: edgeId, verdict: "quarantine", outcome: "quarantined" })).toBe(1);
    expect(value(after, "portcullis_messages", { edge: edgeId, verdict: "accept", outcome: "spooled" })).toBe(1);
    expect(value(after, "portcullis_delivery_rounds", { edge: edgeId, kind: "spool", outcome: "retry" })).toBe(1);
    expect(value(after, "portcullis_agent_results", { agent: "content-filter", result: "fail" })).toBe(agentFails + 2);
    // Five decisions with an SCL in the window: -1, 0, 2, 6, 9; of them, three at 5 or below.
    expect(value(after, "portcullis_scl_count")).toBe(sclCount + 5);
    expect(value(after, "portcullis_scl_bucket", { le: "5" })).toBe(sclAtMost5 + 3);
    expect(value(after, "portcullis_scl_bucket", { le: "+Inf" })).toBe(value(after, "portcullis_scl_count"));
    const buckets = after
      .get("portcullis_scl")!
      .samples.filter((s) => s.name === "portcullis_scl_bucket")
      .map((s) => s.value);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));

    const wide = await scrape("?window=7200");
    expect(value(wide, "portcullis_metrics_window_seconds")).toBe(7200);
    expect(value(wide, "portcullis_messages", { edge: edgeId, verdict: "accept", outcome: "accepted" })).toBe(3);
  });

  it("refuses a window out of range or not a number with a 400", async () => {
    for (const window of ["10", "100000", "soon", "60.5"]) {
      const res = await api(`/metrics?window=${window}`);
      expect(res.status, window).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: "bad_request", message: expect.stringContaining("window") } });
    }
  });

  it("reports sync lag, directory version and convergence per edge, the spool, and an edge that does not answer as down", async () => {
    await seedDirectory(["example.com"], ["alice@example.com"]);
    expect((await api("/api/v1/edges/edge-a", { method: "PUT", body: JSON.stringify({ transport: "binding", binding: "EDGE" }) })).ok).toBe(true);
    expect((await api("/api/v1/edges/edge-gone", { method: "PUT", body: JSON.stringify({ transport: "https", url: "https://unreachable.test/" }) })).ok).toBe(
      true,
    );
    const unsynced = await scrape();
    expect(value(unsynced, "portcullis_edge_sync_lag_seconds", { edge: "edge-a" })).toBeUndefined();

    expect((await api("/api/v1/sync", { method: "POST" })).status).toBe(200);
    const synced = await scrape();
    expect(value(synced, "portcullis_edge_up", { edge: "edge-a" })).toBe(1);
    expect(value(synced, "portcullis_edge_converged", { edge: "edge-a" })).toBe(1);
    expect(value(synced, "portcullis_edge_directory_version", { edge: "edge-a" })).toBeGreaterThanOrEqual(1);
    expect(value(synced, "portcullis_edge_sync_lag_seconds", { edge: "edge-a" })).toBeLessThan(60);
    expect(value(synced, "portcullis_edge_sync_last_success_timestamp_seconds", { edge: "edge-a" })).toBeCloseTo(Date.now() / 1000, -2);
    expect(value(synced, "portcullis_edge_sync_failing", { edge: "edge-a" })).toBe(0);
    expect(value(synced, "portcullis_spool_messages", { edge: "edge-a", state: "queued" })).toBe(0);
    expect(value(synced, "portcullis_spool_oldest_age_seconds", { edge: "edge-a" })).toBe(0);
    expect(value(synced, "portcullis_directory_recipients")).toBeGreaterThanOrEqual(1);

    // The edge that does not answer: down, its sync failing, and no live values for it.
    expect(value(synced, "portcullis_edge_up", { edge: "edge-gone" })).toBe(0);
    expect(value(synced, "portcullis_edge_sync_failing", { edge: "edge-gone" })).toBe(1);
    expect(value(synced, "portcullis_edge_converged", { edge: "edge-gone" })).toBeUndefined();
    expect(value(synced, "portcullis_spool_messages", { edge: "edge-gone", state: "queued" })).toBeUndefined();

    // A snapshot the edge has not received yet: no longer converged, until the next sync.
    await seedDirectory([], ["bob@example.com"]);
    await currentSnapshot(env);
    expect(value(await scrape(), "portcullis_edge_converged", { edge: "edge-a" })).toBe(0);
    expect((await api("/api/v1/sync", { method: "POST" })).status).toBe(200);
    expect(value(await scrape(), "portcullis_edge_converged", { edge: "edge-a" })).toBe(1);
    await api("/api/v1/edges/edge-gone", { method: "DELETE" });
  });

  it("reports each upstream hub's breaker and the spool depth and age as each edge answers them", async () => {
    await api("/api/v1/edges/edge-a", { method: "PUT", body: JSON.stringify({ transport: "binding", binding: "EDGE" }) });
    const now = Date.now();
    const report: HubHealthReport = {
      edgeId: "edge-test",
      at: now,
      hubs: [
        { hubId: "hub-eu", state: "open", failures: 4, openedAt: now - 10_000, lastOkAt: null, lastFailureAt: now - 1_000, recent: [] },
        { hubId: "hub-us", state: "closed", failures: 0, openedAt: null, lastOkAt: now, lastFailureAt: null, recent: [] },
      ],
    };
    // The real edge client, with the edge's answers about hubs and spool standing in for traffic it has not seen here.
    const clientOf = (e: Env, edge: Parameters<typeof edgeClient>[1]): EdgeControlApi => {
      const real = edgeClient(e, edge);
      return {
        ...real,
        status: () => real.status(),
        hubHealth: async () => report,
        spoolList: async () => ({
          items: [],
          nextCursor: null,
          counts: { queued: 3, suspended: 1, dead: 2, deleted: 0 },
          oldestQueuedAt: new Date(now - 90_000).toISOString(),
        }),
      };
    };
    const families = parse(await collectMetrics(env, clientOf, 300, now));
    expect(value(families, "portcullis_hub_breaker_state", { edge: "edge-a", hub: "hub-eu", state: "open" })).toBe(1);
    expect(value(families, "portcullis_hub_breaker_state", { edge: "edge-a", hub: "hub-eu", state: "closed" })).toBe(0);
    expect(value(families, "portcullis_hub_breaker_state", { edge: "edge-a", hub: "hub-us", state: "closed" })).toBe(1);
    expect(value(families, "portcullis_hub_consecutive_failures", { edge: "edge-a", hub: "hub-eu" })).toBe(4);
    expect(value(families, "portcullis_spool_messages", { edge: "edge-a", state: "queued" })).toBe(3);
    expect(value(families, "portcullis_spool_messages", { edge: "edge-a", state: "dead" })).toBe(2);
    expect(value(families, "portcullis_spool_oldest_age_seconds", { edge: "edge-a" })).toBe(90);
    expect(value(families, "portcullis_edge_up", { edge: "edge-a" })).toBe(1);
  });
});

describe("GET /metrics on a standby", () => {
  it("reports the hub's role, whether the standby reaches its primary, the age of the export it follows and the mail it holds", async () => {
    const noEdges = (): EdgeControlApi => {
      throw new Error("no edge is asked here");
    };
    const primary = parse(await collectMetrics(env, noEdges, 300));
    expect(value(primary, "portcullis_hub_info", { role: "primary" })).toBe(1);
    expect(primary.get("portcullis_standby_primary_up")!.samples).toEqual([]);

    const standby = { ...env, HUB_ROLE: "standby", HUB_ID: "hub-standby" } as Env;
    const exportedAt = "2026-11-21T08:00:00.000Z";
    await writeState(env.DB, "primary", { up: false, error: "connection refused", checkedAt: new Date().toISOString(), lastHubId: "hub-local" });
    await writeState(env.DB, "applied", {
      key: "exports/hub-local/x.json.gz",
      hubId: "hub-local",
      root: "0".repeat(64),
      contentHash: "c",
      createdAt: exportedAt,
      appliedAt: exportedAt,
    });
    for (const to of [["alice@example.com"], ["bob@example.com"]]) expect((await storeDelivery(standby, testDelivery(to))).status).toBe("stored");

    const families = parse(await collectMetrics(standby, noEdges, 300));
    expect(value(families, "portcullis_hub_info", { hub: "hub-standby", role: "standby" })).toBe(1);
    expect(value(families, "portcullis_standby_primary_up")).toBe(0);
    expect(value(families, "portcullis_standby_applied_export_timestamp_seconds")).toBe(Date.parse(exportedAt) / 1000);
    expect(value(families, "portcullis_standby_messages", { state: "held" })).toBe(2);
    expect(value(families, "portcullis_standby_messages", { state: "handed_back" })).toBe(0);

    await writeState(env.DB, "primary", { up: true, hubId: "hub-local", checkedAt: new Date().toISOString() });
    expect(value(parse(await collectMetrics(standby, noEdges, 300)), "portcullis_standby_primary_up")).toBe(1);
  });
});

describe("the exposition format", () => {
  it("escapes label values and help text, and writes a histogram's buckets cumulatively", () => {
    const doc = new Exposition()
      .gauge("portcullis_test", 'Help with a \\ backslash and a\nnewline "quoted"', [{ labels: { edge: 'a"b\\c\nd' }, value: 1.5 }])
      .histogram(
        "portcullis_test_scl",
        "SCL",
        [0, 5],
        [
          { value: 0, count: 2 },
          { value: 7, count: 1 },
        ],
      );
    const text = doc.text();
    expect(text).toContain('# HELP portcullis_test Help with a \\\\ backslash and a\\nnewline "quoted"\n');
    expect(text).toContain(`portcullis_test{edge="${escapeLabelValue('a"b\\c\nd')}"} 1.5\n`);
    expect(text).toContain('portcullis_test{edge="a\\"b\\\\c\\nd"} 1.5');
    const families = parse(text);
    expect(value(families, "portcullis_test", { edge: 'a"b\\c\nd' })).toBe(1.5);
    expect(families.get("portcullis_test_scl")!.samples.map((s) => [s.name, s.labels.le ?? "", s.value])).toEqual([
      ["portcullis_test_scl_bucket", "0", 2],
      ["portcullis_test_scl_bucket", "5", 2],
      ["portcullis_test_scl_bucket", "+Inf", 3],
      ["portcullis_test_scl_sum", "", 7],
      ["portcullis_test_scl_count", "", 3],
    ]);
    expect(() => new Exposition().gauge("bad name", "x", [])).toThrow();
    expect(() => new Exposition().gauge("portcullis_x", "x", []).gauge("portcullis_x", "x", [])).toThrow();
  });
});
