import { describe, expect, it } from "vitest";
import { memoryDirectory } from "../../../../../shared/directory/memory.ts";
import { senderMatches } from "../../../../../shared/hygiene/content/safe-senders.ts";
import {
  BAYES_CURVE,
  bayesPoints,
  DEFAULT_QUARANTINE_SCL,
  DEFAULT_REJECT_SCL,
  DEFAULT_TAG_SCL,
  DEFAULT_THRESHOLDS,
  NEUTRAL_PROBABILITY,
  sclBand,
  sclFrom,
  weighedProbability,
} from "../../../../../shared/hygiene/content/scl.ts";
import { thresholdsFor } from "../../../../../shared/hygiene/content/thresholds.ts";

const rule = (score: number) => ({ name: "TEST_RULE", score, detail: "test" });

describe("SCL", () => {
  it("defaults to reject ≥ 7, quarantine ≥ 5, tag ≥ 4", () => {
    expect([DEFAULT_REJECT_SCL, DEFAULT_QUARANTINE_SCL, DEFAULT_TAG_SCL]).toEqual([7, 5, 4]);
    expect(DEFAULT_THRESHOLDS).toEqual({ reject: 7, quarantine: 5, tag: 4 });
  });

  it("maps the model's probability onto 0–7 points, rising with it", () => {
    expect(bayesPoints(0)).toBe(0);
    expect(bayesPoints(1)).toBe(7);
    for (let i = 1; i < BAYES_CURVE.length; i++) expect(BAYES_CURVE[i]![0]).toBeGreaterThan(BAYES_CURVE[i - 1]![0]);
    let previous = -1;
    for (let p = 0; p <= 1; p += 0.01) {
      expect(bayesPoints(p)).toBeGreaterThanOrEqual(previous);
      previous = bayesPoints(p);
    }
  });

  it("keeps the model alone out of the tag band on no evidence, in it when unsure, and quarantines when sure", () => {
    expect(sclFrom({ probability: 0.5, clues: 0 }, [])).toBe(3);
    expect(sclFrom({ probability: 0.5, clues: 40 }, [])).toBe(3);
    expect(sclFrom({ probability: 0.53, clues: 40 }, [])).toBe(DEFAULT_TAG_SCL);
    expect(sclFrom({ probability: 0.7, clues: 40 }, [])).toBe(DEFAULT_QUARANTINE_SCL);
    expect(sclFrom({ probability: 0.9999, clues: 40 }, [])).toBe(DEFAULT_REJECT_SCL);
    expect(sclFrom({ probability: 0.01, clues: 40 }, [])).toBe(0);
  });

  it("weighs a probability resting on few clues towards the neutral point", () => {
    expect(weighedProbability({ probability: 0.99, clues: 0 })).toBe(NEUTRAL_PROBABILITY);
    expect(weighedProbability({ probability: 0.99, clues: 5 })).toBeCloseTo(NEUTRAL_PROBABILITY + (0.99 - NEUTRAL_PROBABILITY) / 2, 10);
    expect(weighedProbability({ probability: 0.99, clues: 50 })).toBe(0.99);
  });

  it("adds the rules' points and stays within 0–9", () => {
    expect(sclFrom({ probability: 0.02, clues: 40 }, [rule(2)])).toBe(2);
    expect(sclFrom({ probability: 1, clues: 100 }, [rule(2), rule(2)])).toBe(9);
  });

  it("names the band an SCL falls in", () => {
    expect([0, 3, 4, 5, 6, 7, 9].map((scl) => sclBand(scl, DEFAULT_THRESHOLDS))).toEqual([
      "none",
      "none",
      "tag",
      "quarantine",
      "quarantine",
      "reject",
      "reject",
    ]);
  });
});

describe("thresholdsFor", () => {
  it("uses the defaults without a directory or without a thresholds policy", async () => {
    expect(await thresholdsFor(null, ["alice@example.com"])).toEqual({ ...DEFAULT_THRESHOLDS, override: null });
    const directory = await memoryDirectory({ domains: ["example.com"], recipients: ["alice@example.com"] });
    expect(await thresholdsFor(directory, ["alice@example.com"])).toEqual({ ...DEFAULT_THRESHOLDS, override: null });
  });

  it("reads the policy, and the lowest recipient override replaces the reject threshold", async () => {
    const directory = await memoryDirectory({
      domains: ["example.com"],
      recipients: ["alice@example.com", { address: "bob@example.com", sclOverride: 6 }, { address: "carol@example.com", sclOverride: 3 }],
      policies: { thresholds: { reject: 8, quarantine: 6, tag: 5 } },
    });
    expect(await thresholdsFor(directory, ["alice@example.com"])).toEqual({ reject: 8, quarantine: 6, tag: 5, override: null });
    expect(await thresholdsFor(directory, ["alice@example.com", "bob@example.com"])).toMatchObject({ reject: 6, override: 6 });
    expect(await thresholdsFor(directory, ["bob@example.com", "carol@example.com"])).toMatchObject({ reject: 3, override: 3 });
  });
});

describe("senderMatches", () => {
  it("matches addresses case-insensitively and @domain exactly, not its subdomains", () => {
    expect(senderMatches(["Ops@Partner.Example"], "ops@partner.example")).toBe(true);
    expect(senderMatches(["@partner.example"], "anyone@partner.example")).toBe(true);
    expect(senderMatches(["@partner.example"], "anyone@mail.partner.example")).toBe(false);
    expect(senderMatches(["ops@partner.example"], "other@partner.example")).toBe(false);
    expect(senderMatches([], "ops@partner.example")).toBe(false);
  });
});
