import type { Delivery, HubPing, IngestResult } from "../../../shared/delivery.ts";
import { withTimeout } from "../../../shared/timeout.ts";
import { insertOnwardStatement } from "../db/onward.ts";
import { listHeld, type StoredMessage } from "../db/messages.ts";
import { enqueueOnward } from "../onward/queue.ts";
import { onwardStepsFor } from "../onward/steps.ts";
import { scheduler } from "../sync/trigger.ts";
import { type LatestPointer, readLatest } from "./export.ts";
import { HANDBACK_CONCURRENCY, HANDBACK_MAX_PER_ROUND, HANDBACK_TIMEOUT_MS, PRIMARY_PING_TIMEOUT_MS, RELEASE_MAX_PER_ROUND } from "./limits.ts";
import { type RestoreResult, restoreExport } from "./restore.ts";
import { readState, writeState } from "./state.ts";

/** True on a standby hub deployment (HUB_ROLE = "standby"). */
export const isStandby = (env: Env): boolean => env.HUB_ROLE === "standby";

/** Marks a just-stored message held for the primary (see storeDelivery). */
export function holdStatement(db: D1Database, deliveryId: string): D1PreparedStatement {
  return db
    .prepare("UPDATE messages SET standby_state = 'held', standby_changed_at = ? WHERE delivery_id = ? AND standby_state IS NULL")
    .bind(new Date().toISOString(), deliveryId);
}

/** The primary as a standby reaches it: the hub's own RPC surface, over the PRIMARY_HUB binding. */
interface PrimaryHub {
  ping(): Promise<HubPing>;
  ingest(delivery: Delivery): Promise<IngestResult>;
}

/** What the standby last saw of its primary (backup_state "primary"). */
export type PrimaryStatus = { up: true; hubId: string; checkedAt: string } | { up: false; error: string; checkedAt: string; lastHubId: string | null };

function primaryHub(env: Env): PrimaryHub {
  const binding = (env as unknown as { PRIMARY_HUB?: PrimaryHub }).PRIMARY_HUB;
  if (binding === undefined) throw new Error("this hub has no PRIMARY_HUB service binding");
  return binding;
}

/** Pings the primary: up only if it answers `ok` within PRIMARY_PING_TIMEOUT_MS. Records what it saw. */
export async function checkPrimary(env: Env): Promise<PrimaryStatus> {
  const checkedAt = new Date().toISOString();
  let status: PrimaryStatus;
  try {
    const pong = await withTimeout(primaryHub(env).ping(), PRIMARY_PING_TIMEOUT_MS, "primary ping: no answer");
    if (pong?.status !== "ok" || typeof pong.hubId !== "string") throw new Error("primary ping: unexpected answer");
    if (pong.hubId === env.HUB_ID) throw new Error("PRIMARY_HUB leads to this hub itself: bind it to the primary's deployment");
    status = { up: true, hubId: pong.hubId, checkedAt };
  } catch (err) {
    const last = await readState<PrimaryStatus>(env.DB, "primary");
    status = { up: false, error: err instanceof Error ? err.message : String(err), checkedAt, lastHubId: last?.up ? last.hubId : (last?.lastHubId ?? null) };
  }
  await writeState(env.DB, "primary", status);
  return status;
}

/** The export a standby last applied (backup_state "applied", written by the restore's batch). */
export interface AppliedExport {
  key: string;
  hubId: string;
  root: string;
  contentHash: string;
  createdAt: string;
  appliedAt: string;
}

/**
 * Brings the standby's directory to the primary's newest export, if it has not applied that one
 * yet: SCR's log replay, one whole export at a time; a restore that failed part way is started over.
 */
export async function followPrimary(env: Env, primaryHubId: string): Promise<RestoreResult | null> {
  const latest: LatestPointer | null = await readLatest(env.BACKUP, primaryHubId);
  if (latest === null) return null;
  const applied = await readState<AppliedExport>(env.DB, "applied");
  const failed = (await readState(env.DB, "restoring")) !== null;
  if (!failed && applied !== null && (applied.key === latest.key || applied.contentHash === latest.contentHash)) return null;
  return restoreExport(env, latest.key, { force: true });
}

/** Moves a held message to `state` (or keeps it held with the reason it could not move). */
function markHeldStatement(db: D1Database, id: number, state: "handed_back" | "released" | "held", error: string | null, at = new Date()): D1PreparedStatement {
  return db
    .prepare("UPDATE messages SET standby_state = ?, standby_changed_at = ?, standby_error = ? WHERE id = ? AND standby_state = 'held'")
    .bind(state, at.toISOString(), error, id);
}

async function markHeld(db: D1Database, id: number, state: "handed_back" | "held", error: string | null): Promise<void> {
  await markHeldStatement(db, id, state, error).run();
}

/** The delivery a held message was, rebuilt from its row and bytes: the same delivery id, so the primary de-duplicates it. */
async function deliveryOf(env: Env, m: StoredMessage): Promise<Delivery | null> {
  const object = await env.MAILBOX.get(m.r2Key);
  if (object === null) return null;
  return {
    deliveryId: m.deliveryId,
    edgeId: m.edgeId,
    envelope: { from: m.from, to: m.to },
    raw: new Uint8Array(await object.arrayBuffer()),
    receivedAt: m.receivedAt,
    subject: m.subject,
    messageId: m.messageId,
    verdict: { action: m.action as Delivery["verdict"]["action"], scl: m.scl, agents: m.agents, tags: m.tags },
  };
}

export interface HandBackReport {
  handedBack: number;
  duplicates: number;
  failed: number;
  /** Held messages still waiting (the next round takes them). */
  remaining: number;
}

/**
 * Hands every held message back to the primary (up to HANDBACK_MAX_PER_ROUND per round) with its
 * own delivery id, and marks each one the primary acknowledged — stored, or already there (a
 * message whose answer was lost as the primary died). A failed hand-back stays held, with the
 * reason, for the next round: one the primary refuses does not hold up the ones after it, and the
 * first transport failure ends the round, since the primary is likely down again.
 */
export async function handBack(env: Env): Promise<HandBackReport> {
  const primary = primaryHub(env);
  const report: HandBackReport = { handedBack: 0, duplicates: 0, failed: 0, remaining: 0 };
  let budget = HANDBACK_MAX_PER_ROUND;
  let stop = false;
  let afterId = 0;
  while (!stop && budget > 0) {
    const rows = await listHeld(env.DB, Math.min(budget, HANDBACK_CONCURRENCY * 8), afterId);
    if (rows.length === 0) break;
    budget -= rows.length;
    afterId = rows[rows.length - 1]!.id;
    for (let i = 0; i < rows.length && !stop; i += HANDBACK_CONCURRENCY) {
      await Promise.all(
        rows.slice(i, i + HANDBACK_CONCURRENCY).map(async (row) => {
          const delivery = await deliveryOf(env, row);
          if (delivery === null) {
            report.failed++;
            await markHeld(env.DB, row.id, "held", `raw message missing from the mailbox (${row.r2Key})`);
            return;
          }
          try {
            const result = await withTimeout(primary.ingest(delivery), HANDBACK_TIMEOUT_MS, "hand-back: no answer");
            if (result.status === "refused") {
              report.failed++;
              await markHeld(env.DB, row.id, "held", `refused by the primary: ${result.error}`);
              return;
            }
            if (result.status === "duplicate") report.duplicates++;
            report.handedBack++;
            await markHeld(env.DB, row.id, "handed_back", null);
          } catch (err) {
            report.failed++;
            stop = true;
            await markHeld(env.DB, row.id, "held", err instanceof Error ? err.message : String(err));
          }
        }),
      );
    }
  }
  report.remaining = (await env.DB.prepare("SELECT COUNT(*) AS n FROM messages WHERE standby_state = 'held'").first<{ n: number }>())?.n ?? 0;
  return report;
}

/**
 * A promoted standby (HUB_ROLE set back to "primary") sends the mail it held to onward routing
 * itself, as ingest would have: onward steps written with the mark, in one batch per message.
 */
export async function releaseHeld(env: Env): Promise<number> {
  const rows = await listHeld(env.DB, RELEASE_MAX_PER_ROUND);
  const now = Date.now();
  let released = 0;
  for (const row of rows) {
    const steps = row.action === "accept" ? await onwardStepsFor(env.DB, row.to, now) : [];
    const results = await env.DB.batch<{ id: number }>([
      markHeldStatement(env.DB, row.id, "released", null, new Date(now)),
      ...steps.map((o) => insertOnwardStatement(env.DB, row.deliveryId, o)),
    ]);
    await enqueueOnward(
      env,
      results.slice(1).flatMap((r) => r.results.map((x) => x.id)),
    );
    released++;
  }
  return released;
}

export interface StandbyReport {
  hubId: string;
  primary: PrimaryStatus;
  /** The export applied in this round, if a newer one was found. */
  restored: RestoreResult | null;
  handBack: HandBackReport | null;
  /** The EdgeSync round this standby ran because the primary was down. */
  sync: { root: string | null; edges: { id: string; status: string }[] } | null;
}

/**
 * One standby round (its cron, or POST /api/v1/backups/standby/run). Primary up: follow its newest
 * export, then hand back held mail; no EdgeSync (the primary syncs). Primary down: run the EdgeSync
 * round for the registered edges — each edge's lease makes sure two hubs never commit at once.
 */
export async function standbyRound(env: Env): Promise<StandbyReport> {
  const primary = await checkPrimary(env);
  if (!primary.up) {
    const round = await scheduler(env).runNow();
    return {
      hubId: env.HUB_ID,
      primary,
      restored: null,
      handBack: null,
      sync: { root: round.root, edges: round.edges.map((e) => ({ id: e.id, status: e.status })) },
    };
  }
  const restored = await scheduler(env).followPrimary(primary.hubId);
  return { hubId: env.HUB_ID, primary, restored, handBack: await handBack(env), sync: null };
}
