import type { BayesModel } from "./bayes.ts";
import { DEFAULT_MODEL } from "./default-model.ts";
import { modelFromBase64 } from "./model-codec.ts";

/** Decoded models by their base64 text. Decoding is done once per isolate, never per message. */
const decoded = new Map<string, BayesModel>();
/** Distinct models kept decoded: the default, and one or two others in tests and evaluation. */
const MAX_CACHED_MODELS = 4;

/**
 * The model in a base64 blob, decoded on first use and cached for the life of the isolate.
 *
 * @example
 * const model = loadModel(DEFAULT_MODEL); // decoded once; later calls return the same object
 */
export function loadModel(base64: string): BayesModel {
  let model = decoded.get(base64);
  if (model === undefined) {
    model = modelFromBase64(base64);
    if (decoded.size >= MAX_CACHED_MODELS) decoded.delete(decoded.keys().next().value!);
    decoded.set(base64, model);
  }
  return model;
}

/** The shipped model (default-model.ts). */
export function defaultModel(): BayesModel {
  return loadModel(DEFAULT_MODEL);
}
