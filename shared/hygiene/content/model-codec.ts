import { fromBase64, toBase64 } from "../../base64.ts";
import type { BayesModel } from "./bayes.ts";

/**
 * The shipped form of a {@link BayesModel}: "PCB1", then LEB128 varints — spam and ham message
 * totals, the token count, and per token (ascending hash) the gap from the previous hash and its
 * spam and ham counts. Sorted hashes make the gaps small, so a token costs about five bytes.
 */
const MAGIC = [0x50, 0x43, 0x42, 0x31]; // "PCB1"

/** A model blob that cannot be read: damaged, truncated or of another format. */
export class ModelFormatError extends Error {
  override name = "ModelFormatError";
}

class Writer {
  #bytes: number[] = [...MAGIC];
  varint(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.#bytes.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.#bytes.push(v);
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}

class Reader {
  #pos = MAGIC.length;
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.#bytes[this.#pos++];
      if (b === undefined) throw new ModelFormatError("model blob is truncated");
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new ModelFormatError("model blob has an overlong number");
  }
  get done(): boolean {
    return this.#pos === this.#bytes.length;
  }
}

/** Serialises a model (see the module comment). */
export function encodeModel(model: BayesModel): Uint8Array {
  const w = new Writer();
  w.varint(model.nspam);
  w.varint(model.nham);
  w.varint(model.hashes.length);
  let previous = 0;
  for (let i = 0; i < model.hashes.length; i++) {
    w.varint(model.hashes[i]! - previous);
    w.varint(model.spam[i]!);
    w.varint(model.ham[i]!);
    previous = model.hashes[i]!;
  }
  return w.finish();
}

/** Reads a model blob; throws {@link ModelFormatError} when it is not one. */
export function decodeModel(bytes: Uint8Array): BayesModel {
  if (bytes.length < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) throw new ModelFormatError("not a content model blob");
  const r = new Reader(bytes);
  const nspam = r.varint();
  const nham = r.varint();
  const count = r.varint();
  // Each token takes at least three bytes, so a count past that is a damaged header.
  if (count * 3 > bytes.length) throw new ModelFormatError("model blob token count does not fit its size");
  const hashes = new Uint32Array(count);
  const spam = new Uint32Array(count);
  const ham = new Uint32Array(count);
  let previous = 0;
  for (let i = 0; i < count; i++) {
    const gap = r.varint();
    if (i > 0 && gap === 0) throw new ModelFormatError("model blob hashes are not ascending");
    previous += gap;
    if (previous > 0xffffffff) throw new ModelFormatError("model blob hash out of range");
    hashes[i] = previous;
    spam[i] = r.varint();
    ham[i] = r.varint();
    if (spam[i]! > nspam || ham[i]! > nham) throw new ModelFormatError("model blob count exceeds its totals");
  }
  if (!r.done) throw new ModelFormatError("model blob has trailing bytes");
  return { nspam, nham, hashes, spam, ham };
}

/** A model as the base64 text default-model.ts ships. */
export function modelToBase64(model: BayesModel): string {
  return toBase64(encodeModel(model));
}

/** The model in a base64 blob. */
export function modelFromBase64(text: string): BayesModel {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(text);
  } catch {
    throw new ModelFormatError("model blob is not base64");
  }
  return decodeModel(bytes);
}
