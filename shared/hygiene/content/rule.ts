import type { AuthResults } from "../types.ts";
import type { MessageView } from "./view.ts";

/** What a rule looks at. */
export interface RuleInput {
  view: MessageView;
  /** SPF/DKIM/DMARC as the authentication agent computed them; null when it has not run. */
  auth: AuthResults | null;
  /** Milliseconds since the epoch. */
  now: number;
}

/**
 * One content rule: a named check that adds a fixed number of SCL points when it fires. Scores
 * are in SCL units (the Bayes part gives 0–7, see scl.ts), so a score of 2 moves a message two
 * levels up.
 */
export interface ContentRule {
  /** Upper snake case, as recorded in the agent's note and documented in docs/agents/content-filter.md. */
  name: string;
  score: number;
  description: string;
  /** A short detail when the rule fires (e.g. the offending host), or null when it does not. */
  test(input: RuleInput): string | null;
}

/** A rule that fired on a message. */
export interface RuleHit {
  name: string;
  score: number;
  detail: string;
}
