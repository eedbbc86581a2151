import { readState } from "./state.ts";
import { type AppliedExport, isStandby, type PrimaryStatus } from "./standby.ts";

/** A hub's standby status: its role, what it last saw of its primary, the export it applied, its held mail. */
export interface StandbyStatus {
  hubId: string;
  role: "primary" | "standby";
  primary: PrimaryStatus | null;
  applied: AppliedExport | null;
  held: number;
  handedBack: number;
  released: number;
}

/** Read from backup_state and the messages' standby states (GET /api/v1/backups/standby and /metrics). */
export async function standbyStatus(env: Env): Promise<StandbyStatus> {
  const [counts, primary, applied] = await Promise.all([
    env.DB.prepare("SELECT standby_state AS state, COUNT(*) AS n FROM messages WHERE standby_state IS NOT NULL GROUP BY standby_state").all<{
      state: string;
      n: number;
    }>(),
    readState<PrimaryStatus>(env.DB, "primary"),
    readState<AppliedExport>(env.DB, "applied"),
  ]);
  const n = (state: string) => counts.results.find((r) => r.state === state)?.n ?? 0;
  return {
    hubId: env.HUB_ID,
    role: isStandby(env) ? "standby" : "primary",
    primary,
    applied,
    held: n("held"),
    handedBack: n("handed_back"),
    released: n("released"),
  };
}
