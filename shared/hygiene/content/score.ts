import type { Email } from "postal-mime";
import type { AuthResults } from "../types.ts";
import { type BayesModel, type BayesScore, spamProbability } from "./bayes.ts";
import { findGtube } from "./gtube.ts";
import { runRules, type RuleHit } from "./rules.ts";
import { MAX_SCL, sclFrom } from "./scl.ts";
import { tokenHashes } from "./tokenize.ts";
import { messageView } from "./view.ts";

/** Everything the content filter concluded about one message. */
export interface ContentScore {
  /** Spam Confidence Level 0–9. */
  scl: number;
  /** Where the GTUBE string was found, or null. */
  gtube: string | null;
  bayes: BayesScore;
  rules: RuleHit[];
  /** Distinct tokens the message gave. */
  tokens: number;
}

export interface ScoreOptions {
  auth: AuthResults | null;
  /** Milliseconds since the epoch (for the Date: rules). */
  now: number;
}

/** A message's token hashes, as trained on and scored. */
export function messageTokens(email: Email): number[] {
  return tokenHashes(messageView(email));
}

/**
 * Scores a parsed message: GTUBE, the rules and the model, combined into an SCL. The agent and the
 * cross-validation both call this (and training tokenises with the same {@link messageTokens}),
 * so what is measured is what runs.
 *
 * @example
 * scoreMessage(email, defaultModel(), { auth: null, now: Date.now() }).scl // 0–9
 */
export function scoreMessage(email: Email, model: BayesModel, options: ScoreOptions): ContentScore {
  const gtube = findGtube(email);
  const view = messageView(email);
  const tokens = tokenHashes(view);
  const bayes = spamProbability(model, tokens);
  const rules = runRules({ view, auth: options.auth, now: options.now });
  const scl = gtube !== null ? MAX_SCL : sclFrom(bayes, rules);
  return { scl, gtube, bayes, rules, tokens: tokens.length };
}
