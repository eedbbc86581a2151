/**
 * Cross-validation of the content filter on the training corpus: stratified 10-fold, fixed seed.
 * Each fold's model is trained on the other nine folds only, encoded and decoded through the
 * shipped blob format, and every held-out message is scored by the agent's own code
 * (scoreMessage: tokenizer, model, rules, SCL; authentication results absent) at the default
 * thresholds. No message is ever scored by a model that saw it.
 *
 *   node scripts/eval-content.ts   → a table per fold, then one JSON object as the last line
 */
import { modelFromBase64, modelToBase64 } from "../shared/hygiene/content/model-codec.ts";
import { DEFAULT_QUARANTINE_SCL, DEFAULT_REJECT_SCL, DEFAULT_TAG_SCL, MAX_SCL } from "../shared/hygiene/content/scl.ts";
import { scoreMessage } from "../shared/hygiene/content/score.ts";
import { type LabelledMessage, loadTrainingSet, TRAIN_OPTIONS, trainFromMessages } from "./train-content-model.ts";

/** Folds, and the seed of the shuffle that deals messages into them. */
export const FOLDS = 10;
export const SEED = 20021001;

export interface FoldResult {
  fold: number;
  spam: number;
  ham: number;
  /** Share of held-out spam at or above the quarantine threshold. */
  recall: number;
  /** Share of held-out ham at or above the quarantine threshold. */
  fpr: number;
  modelTokens: number;
}

export interface CrossValidation {
  folds: FoldResult[];
  spam: number;
  ham: number;
  /** Spam at SCL ≥ quarantine threshold, over all folds. */
  recall: number;
  /** Ham at SCL ≥ quarantine threshold, over all folds. */
  fpr: number;
  /** The same at the tag and reject thresholds. */
  recallAtTag: number;
  fprAtTag: number;
  recallAtReject: number;
  fprAtReject: number;
  thresholds: { reject: number; quarantine: number; tag: number };
  /** Messages per SCL 0–9. */
  histogram: { spam: number[]; ham: number[] };
  /** Held-out ham at or above the quarantine threshold: file and SCL, for inspection. */
  falsePositives: { file: string; scl: number; probability: number; rules: string[] }[];
  /** Held-out spam below the quarantine threshold. */
  falseNegatives: { file: string; scl: number; probability: number }[];
  seconds: number;
}

/** mulberry32: a tiny seeded PRNG, so the folds are the same on every run and machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fold number per message: ham and spam shuffled separately and dealt round-robin (stratified). */
export function assignFolds(messages: readonly { spam: boolean }[], folds: number, seed: number): number[] {
  const random = prng(seed);
  const fold = new Array<number>(messages.length);
  for (const spam of [false, true]) {
    const indices = messages.flatMap((m, i) => (m.spam === spam ? [i] : []));
    for (let i = indices.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [indices[i], indices[j]] = [indices[j]!, indices[i]!];
    }
    indices.forEach((index, k) => (fold[index] = k % folds));
  }
  return fold;
}

const share = (n: number, d: number): number => (d === 0 ? 0 : n / d);

/**
 * Runs the cross-validation (see the module comment).
 *
 * @example
 * const { recall, fpr } = await crossValidateContent();
 */
export async function crossValidateContent(options: { messages?: LabelledMessage[]; folds?: number; seed?: number } = {}): Promise<CrossValidation> {
  const started = performance.now();
  const messages = options.messages ?? (await loadTrainingSet());
  const folds = options.folds ?? FOLDS;
  const fold = assignFolds(messages, folds, options.seed ?? SEED);
  const histogram = { spam: new Array<number>(MAX_SCL + 1).fill(0), ham: new Array<number>(MAX_SCL + 1).fill(0) };
  const results: FoldResult[] = [];
  const falsePositives: CrossValidation["falsePositives"] = [];
  const falseNegatives: CrossValidation["falseNegatives"] = [];
  const fallbackNow = Date.parse("2002-12-31T00:00:00Z");
  for (let f = 0; f < folds; f++) {
    const training = messages.filter((_, i) => fold[i] !== f);
    const model = modelFromBase64(modelToBase64(trainFromMessages(training, TRAIN_OPTIONS)));
    let spam = 0;
    let ham = 0;
    let caught = 0;
    let falsePositive = 0;
    messages.forEach((m, i) => {
      if (fold[i] !== f) return;
      const score = scoreMessage(m.email, model, { auth: null, now: m.receivedAt ?? fallbackNow });
      histogram[m.spam ? "spam" : "ham"][score.scl]!++;
      const flagged = score.scl >= DEFAULT_QUARANTINE_SCL;
      if (m.spam) {
        spam++;
        if (flagged) caught++;
        else falseNegatives.push({ file: m.file, scl: score.scl, probability: score.bayes.probability });
      } else {
        ham++;
        if (flagged) {
          falsePositive++;
          falsePositives.push({ file: m.file, scl: score.scl, probability: score.bayes.probability, rules: score.rules.map((r) => r.name) });
        }
      }
    });
    results.push({ fold: f, spam, ham, recall: share(caught, spam), fpr: share(falsePositive, ham), modelTokens: model.hashes.length });
  }
  const atOrAbove = (counts: number[], threshold: number): number => counts.slice(threshold).reduce((a, b) => a + b, 0);
  const spam = messages.filter((m) => m.spam).length;
  const ham = messages.length - spam;
  return {
    folds: results,
    spam,
    ham,
    recall: share(atOrAbove(histogram.spam, DEFAULT_QUARANTINE_SCL), spam),
    fpr: share(atOrAbove(histogram.ham, DEFAULT_QUARANTINE_SCL), ham),
    recallAtTag: share(atOrAbove(histogram.spam, DEFAULT_TAG_SCL), spam),
    fprAtTag: share(atOrAbove(histogram.ham, DEFAULT_TAG_SCL), ham),
    recallAtReject: share(atOrAbove(histogram.spam, DEFAULT_REJECT_SCL), spam),
    fprAtReject: share(atOrAbove(histogram.ham, DEFAULT_REJECT_SCL), ham),
    thresholds: { reject: DEFAULT_REJECT_SCL, quarantine: DEFAULT_QUARANTINE_SCL, tag: DEFAULT_TAG_SCL },
    histogram,
    falsePositives,
    falseNegatives,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}

const percent = (x: number): string => `${(x * 100).toFixed(2)}%`;

async function main(): Promise<void> {
  const cv = await crossValidateContent();
  console.log(`${FOLDS}-fold cross-validation on ${cv.ham} ham + ${cv.spam} spam (seed ${SEED}), default thresholds`);
  console.log("fold  spam  ham  recall   fpr     tokens");
  for (const f of cv.folds) {
    console.log(
      `${String(f.fold).padStart(4)}  ${String(f.spam).padStart(4)}  ${String(f.ham).padStart(3)}  ${percent(f.recall).padStart(7)}  ${percent(f.fpr).padStart(6)}  ${f.modelTokens}`,
    );
  }
  console.log(`SCL histogram (0–9)  spam: ${cv.histogram.spam.join(" ")}`);
  console.log(`                     ham:  ${cv.histogram.ham.join(" ")}`);
  console.log(`at tag ≥${cv.thresholds.tag}: recall ${percent(cv.recallAtTag)}, fpr ${percent(cv.fprAtTag)}`);
  console.log(`at reject ≥${cv.thresholds.reject}: recall ${percent(cv.recallAtReject)}, fpr ${percent(cv.fprAtReject)}`);
  for (const fp of cv.falsePositives) console.log(`false positive: ${fp.file} SCL ${fp.scl} p=${fp.probability.toFixed(4)} ${fp.rules.join(",")}`);
  console.log(`recall ${percent(cv.recall)} at fpr ${percent(cv.fpr)} (quarantine ≥${cv.thresholds.quarantine}) in ${cv.seconds} s`);
  const { falsePositives, falseNegatives, ...figures } = cv;
  console.log(JSON.stringify({ ...figures, falsePositives: falsePositives.length, falseNegatives: falseNegatives.length }));
}

if (import.meta.main) await main();
