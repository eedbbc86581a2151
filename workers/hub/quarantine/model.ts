import { type BayesModel, MIN_PROB_STRENGTH, tokenProbability } from "../../../shared/hygiene/content/bayes.ts";
import { DEFAULT_MODEL, MODEL_INFO } from "../../../shared/hygiene/content/default-model.ts";
import { defaultModel } from "../../../shared/hygiene/content/model.ts";
import { modelToBase64 } from "../../../shared/hygiene/content/model-codec.ts";
import { type Policies, validatePolicy } from "../../../shared/policy.ts";
import { requestSync } from "../sync/trigger.ts";
import { type FeedbackTotals, feedbackTotals, totalsStatement } from "./feedback-store.ts";
import { FEEDBACK_MODEL_MAX_TOKENS } from "./limits.ts";
import { hubLog } from "../../../shared/log.ts";

/**
 * The content filter's model with operators' reports in it. The `content-model` policy is always
 * rebuilt from the same two inputs — the shipped base model (default-model.ts) and the running sum
 * of the standing reports (`feedback_tokens`) — never from the previous policy, so a withdrawn
 * report is simply absent from the next build, and a build with no standing reports is the
 * shipped model exactly.
 *
 * Cost: one D1 read of at most FEEDBACK_MODEL_MAX_TOKENS rows (by index), a merge with the
 * base's ~12,500 tokens, and the encoding — tens of milliseconds, inside the admin request.
 * Reporting itself adds one message's tokens (≤ CONTENT_MAX_TOKENS) to the sum in SQL.
 */

/** The shipped model's version, as the hub ships it when no policy is set (sync/build.ts). */
export const BASE_MODEL_VERSION = `${MODEL_INFO.format}-${MODEL_INFO.sha256.slice(0, 16)}`;

/** Report counts per token, as summed in D1. */
export interface FeedbackCounts {
  nspam: number;
  nham: number;
  tokens: { hash: number; spam: number; ham: number }[];
}

/**
 * A model trained on the base model's messages and the reported ones: the totals add up, and
 * each token's spam and ham counts add up. Tokens too close to 0.5 to ever be a clue are left
 * out, as training leaves them out (bayes.ts `trainModel`); reported tokens are kept from a
 * single report, since an operator's label is worth more than a corpus message's.
 *
 * @example
 * mergeFeedback(defaultModel(), { nspam: 0, nham: 1, tokens: [{ hash: tokenHash("invoice"), spam: 0, ham: 1 }] })
 */
export function mergeFeedback(base: BayesModel, feedback: FeedbackCounts): BayesModel {
  const totals = { nspam: base.nspam + feedback.nspam, nham: base.nham + feedback.nham };
  const extra = feedback.tokens;
  const fhash = Uint32Array.from(extra, (t) => t.hash >>> 0);
  const order = Uint32Array.from(extra.keys()).sort((a, b) => fhash[a]! - fhash[b]!);
  const size = base.hashes.length + extra.length;
  const hashes = new Uint32Array(size);
  const spam = new Uint32Array(size);
  const ham = new Uint32Array(size);
  let n = 0;
  const keep = (hash: number, s: number, h: number): void => {
    // Defensive: a count above its total would make the blob unreadable at the edge.
    const sp = Math.min(s, totals.nspam);
    const hm = Math.min(h, totals.nham);
    if (sp + hm === 0 || Math.abs(tokenProbability(totals, sp, hm) - 0.5) < MIN_PROB_STRENGTH) return;
    if (n > 0 && hashes[n - 1] === hash) {
      // The same hash twice in the feedback: one token.
      spam[n - 1] = Math.min(spam[n - 1]! + sp, totals.nspam);
      ham[n - 1] = Math.min(ham[n - 1]! + hm, totals.nham);
      return;
    }
    hashes[n] = hash;
    spam[n] = sp;
    ham[n] = hm;
    n++;
  };
  // Both lists ascending by hash: one merge pass.
  let i = 0;
  let j = 0;
  while (i < base.hashes.length || j < order.length) {
    const bh = i < base.hashes.length ? base.hashes[i]! : Infinity;
    const fh = j < order.length ? fhash[order[j]!]! : Infinity;
    if (bh < fh) {
      keep(bh, base.spam[i]!, base.ham[i]!);
      i++;
    } else if (fh < bh) {
      const t = extra[order[j]!]!;
      keep(fh, t.spam, t.ham);
      j++;
    } else {
      const t = extra[order[j]!]!;
      keep(bh, base.spam[i]! + t.spam, base.ham[i]! + t.ham);
      i++;
      j++;
    }
  }
  return { ...totals, hashes: hashes.slice(0, n), spam: spam.slice(0, n), ham: ham.slice(0, n) };
}

/** Where the published model stands against the reports. */
export interface ModelStatus {
  /** The `content-model` policy's version: the base's, then `+feedback.<generation>` once built with reports. */
  version: string;
  /** Changes to the standing reports so far, and the one the published model includes. */
  generation: number;
  builtGeneration: number;
  /** False while a change is not yet in the published model (a rebuild failed: retry with POST /api/v1/feedback/rebuild). */
  upToDate: boolean;
  standing: { spam: number; ham: number };
  /** Tokens in the model, when this call built it. */
  tokens?: number;
}

function status(totals: FeedbackTotals, builtGeneration: number, tokens?: number): ModelStatus {
  return {
    version: builtGeneration === 0 ? BASE_MODEL_VERSION : `${BASE_MODEL_VERSION}+feedback.${builtGeneration}`,
    generation: totals.generation,
    builtGeneration,
    upToDate: builtGeneration >= totals.generation,
    standing: { spam: totals.nspam, ham: totals.nham },
    ...(tokens === undefined ? {} : { tokens }),
  };
}

export async function modelStatus(db: D1Database): Promise<ModelStatus> {
  const totals = await feedbackTotals(db);
  return status(totals, totals.builtGeneration);
}

/** A model built from the base and the standing reports of one feedback generation, ready to publish. */
export interface ContentModelBuild {
  generation: number;
  policy: Policies["content-model"];
  /** Tokens in the model. */
  tokens: number;
}

/**
 * Reads the sum of the standing reports and its generation in one transaction, and builds the
 * model from them — or gives no build when the published model already includes that generation.
 */
export async function buildContentModel(db: D1Database): Promise<{ totals: FeedbackTotals; build: ContentModelBuild | null }> {
  const [totalsResult, tokensResult] = await db.batch([
    totalsStatement(db),
    // Tokens in more reports first, then the most recently reported: FEEDBACK_MODEL_MAX_TOKENS bounds the read and the blob.
    db.prepare("SELECT hash, spam, ham FROM feedback_tokens ORDER BY spam + ham DESC, seen DESC LIMIT ?").bind(FEEDBACK_MODEL_MAX_TOKENS),
  ]);
  const totals = totalsResult?.results[0] as FeedbackTotals | undefined;
  if (totals === undefined) throw new Error("feedback_state has no row: migration 0007 not applied");
  if (totals.builtGeneration >= totals.generation) return { totals, build: null };

  const tokens = (tokensResult?.results ?? []) as FeedbackCounts["tokens"];
  // No standing reports: the shipped model itself (which is what merging nothing gives, byte for byte).
  const none = totals.nspam + totals.nham === 0;
  const model = none ? defaultModel() : mergeFeedback(defaultModel(), { nspam: totals.nspam, nham: totals.nham, tokens });
  const policy = validatePolicy("content-model", {
    version: `${BASE_MODEL_VERSION}+feedback.${totals.generation}`,
    model: none ? DEFAULT_MODEL : modelToBase64(model),
  });
  if (!policy.ok) throw new Error(`rebuilt content model is not a valid policy: ${policy.errors.join("; ")}`);
  return { totals, build: { generation: totals.generation, policy: policy.value, tokens: model.hashes.length } };
}

/**
 * Writes a build as the `content-model` policy unless a build of the same or a later generation
 * was written meanwhile — two reports racing cannot leave the older build published — and asks
 * for a sync, which carries it to every edge. False when it was not written.
 */
export async function publishContentModel(env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }, build: ContentModelBuild): Promise<boolean> {
  const [written] = await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO policies (name, body) SELECT 'content-model', ? WHERE (SELECT built_generation FROM feedback_state WHERE id = 1) < ?
       ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
    ).bind(JSON.stringify(build.policy), build.generation),
    env.DB.prepare("UPDATE feedback_state SET built_generation = ? WHERE id = 1 AND built_generation < ?").bind(build.generation, build.generation),
  ]);
  if ((written?.meta.changes ?? 0) === 0) return false;
  requestSync(env, ctx);
  hubLog(env.HUB_ID).info("content_model_rebuilt", { generation: build.generation, tokens: build.tokens });
  return true;
}

/** Brings the `content-model` policy up to the standing reports, if it is behind (see buildContentModel, publishContentModel). */
export async function ensureContentModel(env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }): Promise<ModelStatus> {
  const { totals, build } = await buildContentModel(env.DB);
  if (build === null) return status(totals, totals.builtGeneration);
  if (!(await publishContentModel(env, ctx, build))) return modelStatus(env.DB);
  return status(totals, build.generation, build.tokens);
}
