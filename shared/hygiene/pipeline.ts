import { AGENT_TIMEOUT_MS } from "../limits.ts";
import { ACCEPTED_REPLY, formatReply, smtpReply } from "../smtp.ts";
import { tagsFor } from "../tags.ts";
import type { Action, RejectReason } from "../verdict.ts";
import { AgentTimer } from "./agent-timer.ts";
import { AGENTS } from "./agents/index.ts";
import { parseConnection } from "./connection.ts";
import { parseMessage } from "./parse.ts";
import type { Agent, AgentContext, AgentOutcome, AgentVerdict, ConnectionInfo, Envelope, InboundMail, PipelineResult } from "./types.ts";

export interface PipelineInput {
  envelope: Envelope;
  raw: Uint8Array;
  /** Who connected, when the caller already knows (otherwise taken as unknown). */
  connection?: ConnectionInfo;
}

export interface PipelineOptions {
  agents?: readonly Agent[];
  /** Called when an agent throws or times out; the edge logs it, the CLI prints it. */
  onAgentError?: (agent: string, error: unknown) => void;
}

/**
 * Runs the hygiene agents over one message: envelope agents, then one parse, then header and
 * body agents. Never throws for anything about the message: every input gets a result.
 *
 * @example
 * const result = await runPipeline({ envelope: { from: "a@b.example", to: ["alice@example.com"] }, raw }, { directory });
 * result.action // "accept" | "reject" | "quarantine" | "tempfail"
 */
export async function runPipeline(input: PipelineInput, ctx: AgentContext, options: PipelineOptions = {}): Promise<PipelineResult> {
  const agents = options.agents ?? AGENTS;
  const mail: InboundMail = {
    envelope: input.envelope,
    raw: input.raw,
    recipients: [],
    email: null,
    connection: input.connection ?? parseConnection(input.raw),
    scl: null,
    auth: null,
    notes: {},
  };
  const outcomes: AgentOutcome[] = [];
  const finish = (action: Action, reason: RejectReason | null): PipelineResult => ({
    action,
    scl: Math.max(mail.scl ?? 0, 0),
    smtp: formatReply(reason === null ? ACCEPTED_REPLY : smtpReply(reason)),
    reason,
    agents: outcomes,
    recipients: action === "reject" || action === "tempfail" ? [] : mail.recipients,
    email: mail.email,
    tags: action === "accept" || action === "quarantine" ? tagsFor(action, mail.scl, mail.notes["tag"] === "spam") : null,
  });

  // Parsing happens once, between the envelope agents and the first agent that reads content —
  // or at the end when no such agent runs, so malformed MIME is always answered here.
  let parsed = false;
  const parseOnce = async (): Promise<PipelineResult | null> => {
    parsed = true;
    const result = await parseMessage(mail.raw);
    if (!result.ok) {
      outcomes.push({ agent: "parse", result: "fail", reason: result.reason.reason });
      return finish("reject", result.reason);
    }
    mail.email = result.email;
    outcomes.push({ agent: "parse", result: "pass", reason: "parsed" });
    return null;
  };

  const timer = new AgentTimer(AGENT_TIMEOUT_MS);
  try {
    for (const agent of agents) {
      if (agent.phase !== "envelope" && !parsed) {
        const refused = await parseOnce();
        if (refused !== null) return refused;
      }
      let verdict: AgentVerdict;
      try {
        verdict = await timer.run(agent.check(mail, ctx), agent.name);
      } catch (error) {
        verdict = failed(agent, error, options);
      }
      outcomes.push(describe(agent.name, verdict));
      if (verdict.action === "continue") continue;
      if (verdict.action === "accept") break;
      return finish(verdict.action, verdict.reason);
    }
  } finally {
    timer.stop();
  }
  if (!parsed) {
    const refused = await parseOnce();
    if (refused !== null) return refused;
  }
  return finish("accept", null);
}

/** What an agent that threw or ran out of time amounts to: its failure mode decides. */
function failed(agent: Agent, error: unknown, options: PipelineOptions): AgentVerdict {
  options.onAgentError?.(agent.name, error);
  const detail = error instanceof Error ? error.message : String(error);
  if (agent.failMode === "open") return { action: "continue", skipped: true, note: `error (fail open): ${detail}` };
  return { action: "tempfail", reason: { reason: "agent_failed", agent: agent.name, detail } };
}

function describe(agent: string, verdict: AgentVerdict): AgentOutcome {
  if (verdict.action === "continue" || verdict.action === "accept") {
    return { agent, result: verdict.skipped ? "skip" : "pass", reason: verdict.note ?? verdict.action };
  }
  return verdict.note === undefined
    ? { agent, result: "fail", reason: verdict.reason.reason }
    : { agent, result: "fail", reason: verdict.reason.reason, detail: verdict.note };
}
