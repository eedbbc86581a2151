import { CONTENT_MAX_TOKENS } from "../../limits.ts";
import { FNV_OFFSET, hashFrom } from "./hash.ts";

/** A token prefix, with its FNV-1a state precomputed so a word's hash continues from it. */
export interface Prefix {
  text: string;
  hash: number;
}

export function prefix(text: string): Prefix {
  return { text, hash: hashFrom(FNV_OFFSET, text, 0, text.length, false) };
}

/**
 * Where the tokenizer puts a message's tokens: a {@link TokenSet}, or the model's clue collector
 * when only the score is wanted. It also counts the words, and those in capitals, for the shape token.
 */
export interface TokenSink {
  words: number;
  capitalWords: number;
  /** No more tokens are taken. */
  readonly full: boolean;
  add(token: string): void;
  /**
   * Adds `prefix` + `text[start, end)` in lower case; the range is ASCII. `hash`, when the caller
   * has it, is that token's FNV-1a state (as `hashFrom(p.hash, text, start, end, true)`).
   */
  addAscii(p: Prefix, text: string, start: number, end: number, hash?: number): void;
  /**
   * Adds `prefix` + `middle` + `text[start, end)` as they are: a token built from parts, hashed
   * without joining them (a joined string would have to be flattened before it is read).
   */
  addJoined(p: Prefix, middle: string, text: string, start?: number, end?: number): void;
}

/**
 * Token tables, smallest first, shared by every call (tokenizing is synchronous, so one runs at a
 * time). Each is open addressing over slot pairs — the call that filled the slot, and the token's
 * hash — so a new call starts empty without clearing anything. A message starts in the smallest
 * (16 KiB, which stays in the processor's cache) and moves up when it is half full; the largest
 * holds CONTENT_MAX_TOKENS at under half full.
 */
const TABLE_BITS = Array.from({ length: Math.max(1, Math.ceil(Math.log2(CONTENT_MAX_TOKENS * 2)) - 10) }, (_, i) => 11 + i);
const tables = TABLE_BITS.map((bits) => new Int32Array(2 << bits));
const found = new Int32Array(CONTENT_MAX_TOKENS);
let lastCall = 0;

/**
 * Collects tokens up to {@link CONTENT_MAX_TOKENS}, each once, and counts words in capitals.
 *
 * @example
 * const out = new TokenSet(false);
 * out.add("subject:free");
 * out.hashes() // [tokenHash("subject:free")]
 * Tokens are kept as their hashes (what the model knows them by), and as text only when asked
 * for: the common case, a plain word, is hashed straight from the message text without making a
 * string of it.
 */
export class TokenSet implements TokenSink {
  size = 0;
  readonly texts: string[] | null;
  readonly call: number;
  words = 0;
  capitalWords = 0;
  #level = 0;
  #slots = tables[0]!;
  #shift = 32 - TABLE_BITS[0]!;
  #room = 1 << (TABLE_BITS[0]! - 1);
  constructor(keepText: boolean) {
    this.texts = keepText ? [] : null;
    // A wrapped counter could meet a slot last filled 2^31 calls ago: clear the tables then.
    if (lastCall === 0x7fffffff) {
      for (const table of tables) table.fill(0);
      lastCall = 0;
    }
    this.call = ++lastCall;
  }
  /** Records a token's hash (FNV-1a state); false when it was there already or the set is full. */
  #insert(hash: number): boolean {
    if (this.size >= CONTENT_MAX_TOKENS) return false;
    if (!this.#place(hash)) return false;
    found[this.size++] = hash;
    if (this.size >= this.#room && this.#level < tables.length - 1) this.#grow();
    return true;
  }
  /** Puts a hash in the current table; false when it is there already. */
  #place(hash: number): boolean {
    const slots = this.#slots;
    const mask = slots.length - 1;
    for (let at = (Math.imul(hash, 0x9e3779b1) >>> this.#shift) << 1; ; at = (at + 2) & mask) {
      if (slots[at] !== this.call) {
        slots[at] = this.call;
        slots[at + 1] = hash;
        return true;
      }
      if (slots[at + 1] === hash) return false;
    }
  }
  #grow(): void {
    this.#level++;
    this.#slots = tables[this.#level]!;
    this.#shift = 32 - TABLE_BITS[this.#level]!;
    this.#room = 1 << (TABLE_BITS[this.#level]! - 1);
    for (let i = 0; i < this.size; i++) this.#place(found[i]!);
  }
  add(token: string): void {
    if (this.#insert(hashFrom(FNV_OFFSET, token, 0, token.length, false))) this.texts?.push(token);
  }
  /** Adds `prefix` + `text[start, end)` in lower case; the range is ASCII. */
  addAscii(p: Prefix, text: string, start: number, end: number, hash = hashFrom(p.hash, text, start, end, true)): void {
    if (this.#insert(hash)) this.texts?.push(p.text + text.slice(start, end).toLowerCase());
  }
  addJoined(p: Prefix, middle: string, text: string, start = 0, end = text.length): void {
    const hash = hashFrom(hashFrom(p.hash, middle, 0, middle.length, false), text, start, end, false);
    if (this.#insert(hash)) this.texts?.push(p.text + middle + text.slice(start, end));
  }
  get full(): boolean {
    return this.size >= CONTENT_MAX_TOKENS;
  }
  /** The token hashes ({@link tokenHash}), in the order first found. */
  hashes(): number[] {
    // A plain array: making a typed array costs more than filling this one.
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) out.push(found[i]! >>> 0);
    return out;
  }
}
