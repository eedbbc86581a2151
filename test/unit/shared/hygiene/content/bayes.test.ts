import { describe, expect, it } from "vitest";
import {
  type BayesModel,
  chi2Q,
  ClueCollector,
  MAX_DISCRIMINATORS,
  spamProbability,
  tokenProbability,
  trainModel,
} from "../../../../../shared/hygiene/content/bayes.ts";
import { DEFAULT_MODEL, MODEL_INFO } from "../../../../../shared/hygiene/content/default-model.ts";
import { tokenHash } from "../../../../../shared/hygiene/content/hash.ts";
import { defaultModel, loadModel } from "../../../../../shared/hygiene/content/model.ts";
import { decodeModel, encodeModel, ModelFormatError, modelFromBase64, modelToBase64 } from "../../../../../shared/hygiene/content/model-codec.ts";

const h = (...tokens: string[]) => tokens.map(tokenHash);

/** 20 spam and 20 ham messages: "viagra" and "offer" only in spam, "patch" and "kernel" only in ham, "the" everywhere. */
function corpus(): { tokens: number[]; spam: boolean }[] {
  const docs: { tokens: number[]; spam: boolean }[] = [];
  for (let i = 0; i < 20; i++) {
    docs.push({ spam: true, tokens: h("viagra", "offer", "the", ...(i < 2 ? ["rare"] : [])) });
    docs.push({ spam: false, tokens: h("patch", "kernel", "the") });
  }
  return docs;
}

describe("tokenHash", () => {
  it("is 32-bit FNV-1a", () => {
    expect(tokenHash("")).toBe(0x811c9dc5);
    expect(tokenHash("a")).toBe(0xe40c292c);
    expect(tokenHash("foobar")).toBe(0xbf9cf968);
  });
});

describe("trainModel", () => {
  it("counts messages, not occurrences, and keeps hashes sorted", () => {
    const model = trainModel(
      [
        { spam: true, tokens: h("win", "win", "win") },
        { spam: false, tokens: h("win") },
      ],
      { minDocs: 1, maxTokens: 10 },
    );
    expect(model.nspam).toBe(1);
    expect(model.nham).toBe(1);
    expect([...model.hashes]).toEqual([...model.hashes].sort((a, b) => a - b));
    // "win" is in one spam and one ham: p = 0.5, never a clue, so not kept at all.
    expect(model.hashes.length).toBe(0);
  });

  it("drops tokens seen in fewer than minDocs messages and keeps the strongest maxTokens", () => {
    const model = trainModel(corpus(), { minDocs: 3, maxTokens: 3 });
    const kept = new Set(model.hashes);
    expect(kept.has(tokenHash("rare"))).toBe(false); // in 2 messages
    expect(kept.has(tokenHash("the"))).toBe(false); // p = 0.5
    expect(model.hashes.length).toBe(3);
    const all = trainModel(corpus(), { minDocs: 3, maxTokens: 100 });
    expect(new Set(all.hashes)).toEqual(new Set(h("viagra", "offer", "patch", "kernel")));
  });

  it("refuses limits that are not positive integers", () => {
    expect(() => trainModel([], { minDocs: 0, maxTokens: 10 })).toThrow(RangeError);
    expect(() => trainModel([], { minDocs: 1, maxTokens: 1.5 })).toThrow(RangeError);
  });
});

describe("spamProbability", () => {
  const model = trainModel(corpus(), { minDocs: 1, maxTokens: 100 });

  it("is near 1 for spam words, near 0 for ham words, and 0.5 on no evidence", () => {
    expect(spamProbability(model, h("viagra", "offer")).probability).toBeGreaterThan(0.99);
    expect(spamProbability(model, h("patch", "kernel")).probability).toBeLessThan(0.01);
    expect(spamProbability(model, h("unknown", "the"))).toEqual({ probability: 0.5, clues: 0 });
  });

  it("stays unsure when the evidence is mixed", () => {
    const mixed = spamProbability(model, h("viagra", "offer", "patch", "kernel"));
    expect(mixed.clues).toBe(4);
    expect(mixed.probability).toBeGreaterThan(0.3);
    expect(mixed.probability).toBeLessThan(0.7);
  });

  it("pulls rarely seen tokens towards 0.5", () => {
    expect(tokenProbability({ nspam: 10, nham: 10 }, 1, 0)).toBeLessThan(tokenProbability({ nspam: 10, nham: 10 }, 10, 0));
    expect(tokenProbability({ nspam: 10, nham: 10 }, 1, 0)).toBeGreaterThan(0.5);
  });

  it(`combines at most ${MAX_DISCRIMINATORS} clues`, () => {
    const many = Array.from({ length: 400 }, (_, i) => `t${i}`);
    const big = trainModel(
      Array.from({ length: 10 }, (_, i) => ({ spam: i % 2 === 0, tokens: h(...many.filter((_, j) => j % 2 === i % 2)) })),
      { minDocs: 1, maxTokens: 1000 },
    );
    expect(spamProbability(big, h(...many)).clues).toBe(MAX_DISCRIMINATORS);
  });

  it("scores the shipped model exactly as the formula does, for known and unknown tokens alike", () => {
    // The definition, written out plainly: each token's probability from its counts, the ones far
    // enough from 0.5 as clues, the strongest MAX_DISCRIMINATORS of them, Fisher's combination.
    const shipped = defaultModel();
    const counts = new Map<number, [number, number]>();
    shipped.hashes.forEach((hash, i) => counts.set(hash, [shipped.spam[i]!, shipped.ham[i]!]));
    const reference = (tokens: number[]) => {
      const probs: number[] = [];
      for (const t of tokens) {
        const c = counts.get(t);
        if (c === undefined) continue;
        const p = tokenProbability(shipped, c[0], c[1]);
        if (Math.abs(p - 0.5) >= 0.1) probs.push(p);
      }
      if (probs.length === 0) return { probability: 0.5, clues: 0 };
      // Sorted only when there are too many, so the sums below add in the same order.
      const kept = probs.length > MAX_DISCRIMINATORS ? probs.sort((a, b) => Math.abs(b - 0.5) - Math.abs(a - 0.5)).slice(0, MAX_DISCRIMINATORS) : probs;
      const lnHam = kept.reduce((s, p) => s + Math.log(p), 0);
      const lnSpam = kept.reduce((s, p) => s + Math.log(1 - p), 0);
      const n = kept.length;
      return { probability: (1 - chi2Q(-2 * lnSpam, 2 * n) - (1 - chi2Q(-2 * lnHam, 2 * n)) + 1) / 2, clues: n };
    };
    let seed = 42;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let round = 0; round < 50; round++) {
      const tokens = new Set<number>();
      const size = 1 + (next() % 400);
      while (tokens.size < size) tokens.add(next() % 3 === 0 ? next() : shipped.hashes[next() % shipped.hashes.length]!);
      expect(spamProbability(shipped, [...tokens])).toEqual(reference([...tokens]));
    }
  });

  it("collects clues as tokens arrive, each once, to the same score as the distinct tokens", () => {
    const shipped = defaultModel();
    const known = [...shipped.hashes.slice(0, 300)];
    const stream = [...known, ...h("unknown", "tokens"), ...known.slice(0, 100), ...known.slice(150, 200)];
    const clues = new ClueCollector(shipped);
    for (const t of stream) clues.offer(t);
    expect(clues.score()).toEqual(spamProbability(shipped, [...new Set(stream)]));
    // A new collector starts empty, however many collections came before it.
    const again = new ClueCollector(shipped);
    again.offer(known[0]!);
    expect(again.score()).toEqual(spamProbability(shipped, [known[0]!]));
    expect(new ClueCollector(shipped).score()).toEqual({ probability: 0.5, clues: 0 });
  });

  it("uses the chi-squared upper tail", () => {
    expect(chi2Q(0, 4)).toBe(1);
    expect(chi2Q(2, 2)).toBeCloseTo(Math.exp(-1), 12);
    expect(chi2Q(1000, 10)).toBeLessThan(1e-100);
  });
});

describe("model blob", () => {
  const model = trainModel(corpus(), { minDocs: 1, maxTokens: 100 });

  it("round-trips through bytes and base64", () => {
    const back = decodeModel(encodeModel(model));
    expect(back).toEqual(model);
    expect(modelFromBase64(modelToBase64(model))).toEqual(model);
  });

  it("refuses what is not a model blob", () => {
    const bytes = encodeModel(model);
    expect(() => decodeModel(new TextEncoder().encode("not a model"))).toThrow(ModelFormatError);
    expect(() => decodeModel(bytes.subarray(0, bytes.length - 2))).toThrow(ModelFormatError);
    expect(() => decodeModel(Uint8Array.from([...bytes, 0]))).toThrow(ModelFormatError);
    expect(() => modelFromBase64("%%%")).toThrow(ModelFormatError);
    const inflated: BayesModel = { ...model, spam: model.spam.map(() => 999) };
    expect(() => decodeModel(encodeModel(inflated))).toThrow(/exceeds its totals/);
  });

  it("is decoded once per isolate and cached by its text", () => {
    const blob = modelToBase64(model);
    expect(loadModel(blob)).toBe(loadModel(blob));
    expect(defaultModel()).toBe(loadModel(DEFAULT_MODEL));
  });

  it("ships a compact default model trained on the 2002 corpus", () => {
    const shipped = defaultModel();
    expect(DEFAULT_MODEL.length).toBeLessThan(300 * 1024);
    expect(shipped.hashes.length).toBe(MODEL_INFO.tokens);
    expect({ ham: shipped.nham, spam: shipped.nspam }).toEqual({ ham: MODEL_INFO.ham, spam: MODEL_INFO.spam });
    expect(shipped.hashes.length).toBeLessThanOrEqual(MODEL_INFO.maxTokens);
  });
});
