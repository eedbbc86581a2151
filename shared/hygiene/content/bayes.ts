/**
 * The statistical half of the content filter: Gary Robinson's token probabilities combined with
 * Fisher's chi-squared method, as SpamBayes does. Each token's probability comes from how many
 * spam and ham messages contained it (document counts, not occurrences), pulled towards 0.5 when
 * it was seen only a few times; the strongest clues of a message are combined into one
 * probability that is close to 0 or 1 only when the evidence agrees, and near 0.5 when it is
 * mixed or thin — which keeps false positives rare.
 */

/** A trained model: document counts per token hash, sorted by hash for binary search. */
export interface BayesModel {
  /** Spam and ham messages trained on. */
  nspam: number;
  nham: number;
  /** Token hashes, ascending. */
  hashes: Uint32Array;
  /** Spam and ham messages that contained each token (same index as `hashes`). */
  spam: Uint32Array;
  ham: Uint32Array;
}

/** Robinson's "s": how much weight the prior (0.5) has against a token's own evidence. */
export const UNKNOWN_WORD_STRENGTH = 0.45;
/** The prior probability of a token never or rarely seen. */
export const UNKNOWN_WORD_PROB = 0.5;
/** Tokens closer to 0.5 than this are not evidence either way and are ignored. */
export const MIN_PROB_STRENGTH = 0.1;
/** Strongest clues combined per message: more adds noise from weak tokens (SpamBayes' default). */
export const MAX_DISCRIMINATORS = 150;

/** Options for {@link trainModel}: what keeps the vocabulary small and general. */
export interface TrainOptions {
  /** A token must occur in at least this many training messages to be kept. */
  minDocs: number;
  /** At most this many tokens are kept, the strongest first. */
  maxTokens: number;
}

/** A token's probability of spam from its counts (Robinson's f(w)). */
export function tokenProbability(model: Pick<BayesModel, "nspam" | "nham">, spam: number, ham: number): number {
  const spamRatio = spam / Math.max(model.nspam, 1);
  const hamRatio = ham / Math.max(model.nham, 1);
  const raw = spamRatio + hamRatio === 0 ? UNKNOWN_WORD_PROB : spamRatio / (spamRatio + hamRatio);
  const n = spam + ham;
  return (UNKNOWN_WORD_STRENGTH * UNKNOWN_WORD_PROB + n * raw) / (UNKNOWN_WORD_STRENGTH + n);
}

/**
 * Trains a model from messages' token hashes.
 *
 * @example
 * const model = trainModel([{ tokens: [tokenHash("viagra")], spam: true }, …], { minDocs: 3, maxTokens: 40_000 });
 */
export function trainModel(docs: Iterable<{ tokens: Iterable<number>; spam: boolean }>, options: TrainOptions): BayesModel {
  if (!Number.isInteger(options.minDocs) || options.minDocs < 1) throw new RangeError("minDocs must be a positive integer");
  if (!Number.isInteger(options.maxTokens) || options.maxTokens < 1) throw new RangeError("maxTokens must be a positive integer");
  let nspam = 0;
  let nham = 0;
  const counts = new Map<number, [number, number]>();
  for (const doc of docs) {
    if (doc.spam) nspam++;
    else nham++;
    for (const hash of new Set(doc.tokens)) {
      let c = counts.get(hash);
      if (c === undefined) counts.set(hash, (c = [0, 0]));
      c[doc.spam ? 0 : 1]++;
    }
  }
  const totals = { nspam, nham };
  const kept: { hash: number; spam: number; ham: number; strength: number }[] = [];
  for (const [hash, [spam, ham]] of counts) {
    if (spam + ham < options.minDocs) continue;
    const strength = Math.abs(tokenProbability(totals, spam, ham) - 0.5);
    // A token that can never be a clue costs space and buys nothing.
    if (strength < MIN_PROB_STRENGTH) continue;
    kept.push({ hash, spam, ham, strength });
  }
  kept.sort((a, b) => b.strength - a.strength || b.spam + b.ham - (a.spam + a.ham) || a.hash - b.hash);
  const chosen = kept.slice(0, options.maxTokens).sort((a, b) => a.hash - b.hash);
  return {
    nspam,
    nham,
    hashes: Uint32Array.from(chosen, (t) => t.hash),
    spam: Uint32Array.from(chosen, (t) => t.spam),
    ham: Uint32Array.from(chosen, (t) => t.ham),
  };
}

/**
 * A model made ready for scoring, once per model: an open-addressing table from token hash to
 * the token's probability and its logarithms, holding only the tokens that can be clues (far
 * enough from 0.5). Scoring then costs one probe per token, where a binary search and a
 * probability per token cost far more; a token missing from the table is no clue either way.
 */
interface ScoringTable {
  /**
   * One bit per value of a hash's low PRESENT_BITS bits, set for the clues': most tokens of a
   * message are not clues, and this 32 KiB map rules them out without touching the larger table.
   */
  present: Int32Array;
  /** Slot pairs: the token hash, and 1 + its clue index (0 for an empty slot). One probe reads both. */
  slots: Int32Array;
  mask: number;
  shift: number;
  /** Per clue, side by side so one clue's numbers share a cache line: p, ln p, ln (1 - p). */
  numbers: Float64Array;
  /**
   * Per clue, its place among the clues by strength (|p - 0.5|), strongest 0; equally strong
   * clues share a place. Sorting a message's clues by it orders them as sorting by strength does.
   */
  rank: Uint32Array;
  /** For each clue, the collection that last took it (see ClueCollector), and the last collection. */
  taken: Uint32Array;
  collections: number;
}

const tables = new WeakMap<BayesModel, ScoringTable>();
const PRESENT_BITS = 18;

function slotOf(hash: number, shift: number): number {
  return Math.imul(hash, 0x9e3779b1) >>> shift;
}

function scoringTable(model: BayesModel): ScoringTable {
  let table = tables.get(model);
  if (table !== undefined) return table;
  // One pass for every token's probability, keeping the clues' indexes.
  const n = model.hashes.length;
  const probs = new Float64Array(n);
  const clues = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const p = tokenProbability(model, model.spam[i]!, model.ham[i]!);
    probs[i] = p;
    if (Math.abs(p - 0.5) >= MIN_PROB_STRENGTH) clues[count++] = i;
  }
  // At most 80% full: the presence map sends few unknown tokens here, and a known one is found
  // within a probe or three, in the same or the next cache line.
  let bits = 1;
  while (1 << bits < count * 1.25) bits++;
  const size = 1 << bits;
  const slots = new Int32Array(size * 2);
  const present = new Int32Array(1 << (PRESENT_BITS - 5));
  const numbers = new Float64Array(count * 3);
  for (let k = 0; k < count; k++) {
    const i = clues[k]!;
    const p = probs[i]!;
    numbers[k * 3] = p;
    numbers[k * 3 + 1] = Math.log(p);
    numbers[k * 3 + 2] = Math.log(1 - p);
    const hash = model.hashes[i]! | 0;
    const bit = hash & ((1 << PRESENT_BITS) - 1);
    present[bit >>> 5] = present[bit >>> 5]! | (1 << (bit & 31));
    let slot = slotOf(hash, 32 - bits);
    while (slots[slot * 2 + 1] !== 0) slot = (slot + 1) & (size - 1);
    slots[slot * 2] = hash;
    slots[slot * 2 + 1] = k + 1;
  }
  table = { present, slots, mask: size - 1, shift: 32 - bits, numbers, rank: strengthRanks(numbers, count), taken: new Uint32Array(count), collections: 0 };
  tables.set(model, table);
  return table;
}

/** Each clue's place by strength (see ScoringTable.rank), from the clues' probabilities. */
function strengthRanks(numbers: Float64Array, count: number): Uint32Array {
  const strength = (k: number): number => Math.abs(numbers[k * 3]! - 0.5);
  const order = Array.from({ length: count }, (_, k) => k).sort((a, b) => strength(b) - strength(a));
  const rank = new Uint32Array(count);
  for (let place = 0, i = 0; i < count; i++) {
    if (i > 0 && strength(order[i]!) !== strength(order[i - 1]!)) place++;
    rank[order[i]!] = place;
  }
  return rank;
}

/** Index of a token hash in the table's arrays, or -1 when it is no clue. */
function find(table: ScoringTable, hash: number): number {
  const h = hash | 0;
  const bit = h & ((1 << PRESENT_BITS) - 1);
  if ((table.present[bit >>> 5]! & (1 << (bit & 31))) === 0) return -1;
  const { slots, mask } = table;
  for (let slot = slotOf(h, table.shift); ; slot = (slot + 1) & mask) {
    const entry = slots[slot * 2 + 1]!;
    if (entry === 0) return -1;
    if (slots[slot * 2] === h) return entry - 1;
  }
}

/** Upper tail of the chi-squared distribution with an even number of degrees of freedom. */
export function chi2Q(x2: number, degrees: number): number {
  const m = x2 / 2;
  let term = Math.exp(-m);
  let sum = term;
  for (let i = 1; i < degrees / 2; i++) {
    term *= m / i;
    sum += term;
  }
  return Math.min(sum, 1);
}

/** The outcome of scoring one message. */
export interface BayesScore {
  /** Probability the message is spam, 0–1 (0.5 when there is no evidence). */
  probability: number;
  /** Clues combined (tokens the model knows that are far enough from 0.5). */
  clues: number;
}

/**
 * Scores a message's token hashes.
 *
 * @example
 * spamProbability(model, tokens) // { probability: 0.998, clues: 87 }
 */
export function spamProbability(model: BayesModel, tokens: Iterable<number>): BayesScore {
  const table = scoringTable(model);
  const clues: number[] = [];
  for (const hash of tokens) {
    const i = find(table, hash);
    if (i !== -1) clues.push(i);
  }
  return combine(table, clues);
}

/**
 * Gathers a message's clues as its tokens are found, each clue once, and scores them as
 * {@link spamProbability} scores the message's distinct tokens: the tokenizer can hand tokens
 * straight to the model without first collecting every distinct token of the message.
 *
 * @example
 * const clues = new ClueCollector(model);
 * for (const token of ["viagra", "offer", "viagra"]) clues.offer(tokenHash(token));
 * clues.score() // as spamProbability(model, [tokenHash("viagra"), tokenHash("offer")])
 */
export class ClueCollector {
  readonly #table: ScoringTable;
  readonly #collection: number;
  readonly #clues: number[] = [];

  constructor(model: BayesModel) {
    const table = scoringTable(model);
    // A wrapped counter could meet a clue last taken 2^32 collections ago: clear the marks then.
    if (table.collections === 0xffffffff) {
      table.taken.fill(0);
      table.collections = 0;
    }
    this.#table = table;
    this.#collection = ++table.collections;
  }

  /** Offers a token's hash (or its FNV-1a state before `>>> 0`); a token that is no clue, or was offered before, adds nothing. */
  offer(hash: number): void {
    const i = find(this.#table, hash);
    if (i === -1 || this.#table.taken[i] === this.#collection) return;
    this.#table.taken[i] = this.#collection;
    this.#clues.push(i);
  }

  score(): BayesScore {
    return combine(this.#table, this.#clues);
  }
}

/**
 * The MAX_DISCRIMINATORS strongest clues, strongest first, equally strong ones in the order found
 * (as a stable sort by strength has them). Each is sorted as one number, its strength's place
 * times the clue count plus its position, in a typed array: the engine's numeric sort, with no
 * comparison function called (and no number boxed) per comparison.
 */
function strongest(table: ScoringTable, clues: number[]): number[] {
  const n = clues.length;
  const keys = new Float64Array(n);
  for (let j = 0; j < n; j++) keys[j] = table.rank[clues[j]!]! * n + j;
  keys.sort();
  const out: number[] = [];
  for (let t = 0; t < MAX_DISCRIMINATORS; t++) out.push(clues[keys[t]! % n]!);
  return out;
}

/** Fisher's combination of the strongest clues (indexes into the table), in the order found. */
function combine(table: ScoringTable, clues: number[]): BayesScore {
  if (clues.length === 0) return { probability: 0.5, clues: 0 };
  const { numbers } = table;
  if (clues.length > MAX_DISCRIMINATORS) clues = strongest(table, clues);
  // Fisher: -2 Σ ln p is chi-squared with 2n degrees of freedom when the p are uniform.
  let lnHam = 0;
  let lnSpam = 0;
  for (const i of clues) {
    lnHam += numbers[i * 3 + 1]!;
    lnSpam += numbers[i * 3 + 2]!;
  }
  const n = clues.length;
  const spamness = 1 - chi2Q(-2 * lnSpam, 2 * n);
  const hamness = 1 - chi2Q(-2 * lnHam, 2 * n);
  return { probability: (spamness - hamness + 1) / 2, clues: n };
}
