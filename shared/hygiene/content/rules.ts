import { AUTH_RULES } from "./auth-rules.ts";
import { HEADER_RULES } from "./header-rules.ts";
import type { ContentRule, RuleHit, RuleInput } from "./rule.ts";
import { URL_RULES } from "./url-rules.ts";

export type { ContentRule, RuleHit, RuleInput } from "./rule.ts";

/** Every scoring rule, in the order they are reported (GTUBE is separate: it decides alone, see gtube.ts). */
export const CONTENT_RULES: readonly ContentRule[] = [...HEADER_RULES, ...URL_RULES, ...AUTH_RULES];

/**
 * Runs the rules over a message.
 *
 * @example
 * runRules({ view, auth: null, now: Date.now() }) // [{ name: "URL_NUMERIC_IP", score: 1.5, detail: "203.0.113.42" }]
 */
export function runRules(input: RuleInput, rules: readonly ContentRule[] = CONTENT_RULES): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const rule of rules) {
    const detail = rule.test(input);
    if (detail !== null) hits.push({ name: rule.name, score: rule.score, detail });
  }
  return hits;
}
