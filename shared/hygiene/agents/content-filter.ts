import { DEFAULT_MODEL } from "../content/default-model.ts";
import { loadModel } from "../content/model.ts";
import { findSafeSender } from "../content/safe-senders.ts";
import { sclBand } from "../content/scl.ts";
import { type ContentScore, scoreMessage } from "../content/score.ts";
import { thresholdsFor } from "../content/thresholds.ts";
import { readPolicy } from "../../policy.ts";
import { CONTINUE, reject } from "../../verdict.ts";
import { recipientInfo } from "../recipients.ts";
import type { Agent } from "../types.ts";

/** The agent's note: the SCL and what it rests on, e.g. "SCL 8: bayes 0.998/62 clues; URL_NUMERIC_IP +1.5". */
function describe(score: ContentScore): string {
  if (score.gtube !== null) return `SCL ${score.scl}: GTUBE in ${score.gtube}`;
  const rules = score.rules.map((r) => `${r.name} +${r.score}`);
  return [`SCL ${score.scl}: bayes ${score.bayes.probability.toFixed(3)}/${score.bayes.clues} clues`, ...rules].join("; ");
}

export interface ContentFilterOptions {
  /** The model as a base64 blob (default: the shipped default-model.ts); decoded once per isolate. */
  model?: string;
}

/**
 * Exchange's content filter: a Spam Confidence Level (SCL) 0–9 for each message, from a naive
 * Bayes model over the message's words, links and a few headers, plus named rules (GTUBE, header
 * anomalies, disguised links, failed authentication) — see docs/agents/content-filter.md.
 *
 * At or above the `thresholds` policy's `reject` level (or the recipient's SCL override) the
 * message is refused with 550 5.7.1; at or above `quarantine` it is accepted into quarantine; at
 * or above `tag` it is delivered with the note `tag=spam`. Safe senders, and messages an earlier
 * agent already trusted (SCL -1), are not scored.
 *
 * Open on failure: a content-filter bug must not stop mail; the pipeline records the error.
 */
export function createContentFilter(options: ContentFilterOptions = {}): Agent {
  const modelBlob = options.model ?? DEFAULT_MODEL;
  return {
    name: "content-filter",
    phase: "body",
    failMode: "open",
    async check(mail, ctx) {
      if (mail.email === null) return { ...CONTINUE, skipped: true, note: "message not parsed" };
      if (mail.scl === -1) return { ...CONTINUE, skipped: true, note: "trusted (SCL -1): not scored" };
      const directory = ctx.directory;
      if (directory !== null) {
        const safe = await findSafeSender(mail, directory);
        if (safe !== null) {
          mail.scl = -1;
          mail.notes["safe-sender"] = "true";
          mail.notes["safe-sender-match"] = safe;
          return { ...CONTINUE, note: "safe sender" };
        }
      }
      const thresholds = await thresholdsFor(directory, mail.recipients, (address) => recipientInfo(mail, directory!, address));
      // The model travels in the directory snapshot; the shipped one is the fallback (offline scans).
      const synced = directory === null ? null : await readPolicy(directory, "content-model");
      const score = scoreMessage(mail.email, loadModel(synced?.model ?? modelBlob), { auth: mail.auth, now: (ctx.now ?? Date.now)() });
      mail.scl = score.scl;
      const note = describe(score);
      switch (sclBand(score.scl, thresholds)) {
        case "reject":
          return {
            ...reject({ reason: "spam", scl: score.scl }),
            note: thresholds.override === null ? note : `${note}; recipient override ${thresholds.override}`,
          };
        case "quarantine":
          return { action: "quarantine", reason: { reason: "spam", scl: score.scl }, note };
        case "tag":
          mail.notes["tag"] = "spam";
          return { ...CONTINUE, note: `${note}; tagged` };
        case "none":
          return { ...CONTINUE, note };
      }
    },
  };
}

/** The content filter with the shipped model. */
export const contentFilter: Agent = createContentFilter();
