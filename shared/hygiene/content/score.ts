import type { Email } from "postal-mime";
import type { AuthResults } from "../types.ts";
import { CONTENT_MAX_TOKENS } from "../../limits.ts";
import { type BayesModel, type BayesScore, ClueCollector, spamProbability } from "./bayes.ts";
import { FNV_OFFSET, hashFrom } from "./hash.ts";
import { findGtube } from "./gtube.ts";
import { runRules, type RuleHit } from "./rules.ts";
import { MAX_SCL, sclFrom } from "./scl.ts";
import type { Prefix, TokenSink } from "./token-set.ts";
import { addMessageTokens, tokenHashes } from "./tokenize.ts";
import { type MessageView, messageView } from "./view.ts";

/** Everything the content filter concluded about one message. */
export interface ContentScore {
  /** Spam Confidence Level 0–9. */
  scl: number;
  /** Where the GTUBE string was found, or null. */
  gtube: string | null;
  bayes: BayesScore;
  rules: RuleHit[];
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
  const bayes = modelScore(view, model);
  const rules = runRules({ view, auth: options.auth, now: options.now });
  const scl = gtube !== null ? MAX_SCL : sclFrom(bayes, rules);
  return { scl, gtube, bayes, rules };
}

/**
 * Takes tokens straight to the model's clue collector, with no set of every distinct token.
 * The tokenizer keeps only the first CONTENT_MAX_TOKENS distinct tokens; while fewer tokens than
 * that have been offered at all, that cap cannot have applied. Past it, the sink stops and the
 * message is scored from its full token set instead.
 */
class ClueSink implements TokenSink {
  words = 0;
  capitalWords = 0;
  offered = 0;
  readonly #clues: ClueCollector;

  constructor(clues: ClueCollector) {
    this.#clues = clues;
  }

  get full(): boolean {
    return this.offered >= CONTENT_MAX_TOKENS;
  }

  add(token: string): void {
    if (this.offered++ < CONTENT_MAX_TOKENS) this.#clues.offer(hashFrom(FNV_OFFSET, token, 0, token.length, false));
  }

  addAscii(p: Prefix, text: string, start: number, end: number, hash?: number): void {
    if (this.offered++ < CONTENT_MAX_TOKENS) this.#clues.offer(hash ?? hashFrom(p.hash, text, start, end, true));
  }

  addJoined(p: Prefix, middle: string, text: string, start = 0, end = text.length): void {
    if (this.offered++ < CONTENT_MAX_TOKENS) this.#clues.offer(hashFrom(hashFrom(p.hash, middle, 0, middle.length, false), text, start, end, false));
  }
}

/** The model's verdict on a message's tokens, as spamProbability(model, tokenHashes(view)) gives it. */
function modelScore(view: MessageView, model: BayesModel): BayesScore {
  const clues = new ClueCollector(model);
  const sink = new ClueSink(clues);
  addMessageTokens(view, sink);
  return sink.offered < CONTENT_MAX_TOKENS ? clues.score() : spamProbability(model, tokenHashes(view));
}
