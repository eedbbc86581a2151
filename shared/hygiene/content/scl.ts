import type { BayesScore } from "./bayes.ts";
import type { RuleHit } from "./rule.ts";

/**
 * Spam Confidence Level: 0 (not spam) to 9 (certainly spam), as Exchange reports it; -1 is set
 * elsewhere for trusted paths that skip content filtering.
 */
export const MAX_SCL = 9;

/** Default SCL from which a message is refused (550 5.7.1), when no `thresholds` policy says otherwise. */
export const DEFAULT_REJECT_SCL = 7;
/** Default SCL from which a message is accepted but quarantined. */
export const DEFAULT_QUARANTINE_SCL = 5;
/** Default SCL from which a message is delivered with the note tag=spam (for a junk folder). */
export const DEFAULT_TAG_SCL = 4;

export interface SclThresholds {
  reject: number;
  quarantine: number;
  tag: number;
}

export const DEFAULT_THRESHOLDS: SclThresholds = { reject: DEFAULT_REJECT_SCL, quarantine: DEFAULT_QUARANTINE_SCL, tag: DEFAULT_TAG_SCL };

/**
 * SCL points from the model's spam probability, by linear interpolation between these points;
 * the SCL is the rounded sum with the rules' points. The knees sit where 10-fold
 * cross-validation put ham and spam (scripts/eval-content.ts): on its own the model tags from
 * p ≈ 0.51, quarantines from p = 0.55 and rejects from p ≥ 0.999, and never goes past 7 — SCL 8
 * and 9 take rules as well. A message at p = 0.5 stays at SCL 3, below the tag band, and so does
 * one the model has no evidence about (see {@link NEUTRAL_PROBABILITY}).
 */
export const BAYES_CURVE: readonly (readonly [probability: number, points: number])[] = [
  [0, 0],
  [0.2, 1],
  [0.4, 2.5],
  [0.5, 3.2],
  [0.55, 4.5],
  [0.9, 5.5],
  [0.999, 6.5],
  [1, 7],
];

/**
 * Clues the model needs before its probability counts in full. With fewer, the probability is
 * pulled towards {@link NEUTRAL_PROBABILITY} in proportion: a three-line note that happens to
 * share a few words with spam is not evidence enough to quarantine it.
 */
export const FULL_EVIDENCE_CLUES = 10;

/**
 * Where a message the model knows nothing about lands: a little on the ham side of 0.5 (SCL 3),
 * so that one weak rule alone does not tag it.
 */
export const NEUTRAL_PROBABILITY = 0.45;

/** The model's probability, weighed by how much evidence it rests on. */
export function weighedProbability(bayes: BayesScore): number {
  return NEUTRAL_PROBABILITY + (bayes.probability - NEUTRAL_PROBABILITY) * Math.min(1, bayes.clues / FULL_EVIDENCE_CLUES);
}

/** The model's contribution to the SCL. */
export function bayesPoints(probability: number): number {
  for (let i = 1; i < BAYES_CURVE.length; i++) {
    const [p1, s1] = BAYES_CURVE[i]!;
    if (probability <= p1) {
      const [p0, s0] = BAYES_CURVE[i - 1]!;
      return s0 + ((probability - p0) / (p1 - p0)) * (s1 - s0);
    }
  }
  return BAYES_CURVE[BAYES_CURVE.length - 1]![1];
}

/**
 * The SCL of a message from the model's verdict and the rules that fired: the model's points
 * (from its evidence-weighed probability) plus the rules' points, rounded, within 0–9.
 *
 * @example
 * sclFrom({ probability: 0.02, clues: 40 }, []) // 0
 * sclFrom({ probability: 0.995, clues: 80 }, [{ name: "URL_NUMERIC_IP", score: 1.5, detail: "…" }]) // 8
 */
export function sclFrom(bayes: BayesScore, hits: readonly RuleHit[]): number {
  const points = bayesPoints(weighedProbability(bayes)) + hits.reduce((sum, h) => sum + h.score, 0);
  return Math.min(MAX_SCL, Math.max(0, Math.round(points)));
}

/** What an SCL means under some thresholds. */
export type SclBand = "reject" | "quarantine" | "tag" | "none";

export function sclBand(scl: number, thresholds: SclThresholds): SclBand {
  if (scl >= thresholds.reject) return "reject";
  if (scl >= thresholds.quarantine) return "quarantine";
  if (scl >= thresholds.tag) return "tag";
  return "none";
}
