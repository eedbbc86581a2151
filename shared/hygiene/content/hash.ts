/**
 * 32-bit FNV-1a over a string's UTF-16 code units. The model stores tokens only as these hashes:
 * four bytes a token instead of the token's text, no words of the training mail in the shipped
 * blob, and the same value in workerd, Node and browsers. With a vocabulary of tens of thousands,
 * an unseen token collides with a known one about once in 10^5 tokens, which moves no score.
 *
 * @example
 * tokenHash("subject:free") // a number in [0, 2^32)
 */
export function tokenHash(token: string): number {
  return hashFrom(FNV_OFFSET, token, 0, token.length, false) >>> 0;
}

/** FNV-1a's starting state. */
export const FNV_OFFSET = 0x811c9dc5;
/** FNV-1a's multiplier (32-bit). */
export const FNV_PRIME = 0x01000193;

/**
 * Continues an FNV-1a state `h` over `text[start, end)`, ASCII letters lower-cased when
 * `lowerAscii` is set: the hash of a prefix plus a word, taken without building either string.
 * The result is the raw state; `>>> 0` of it is the hash.
 */
export function hashFrom(h: number, text: string, start: number, end: number, lowerAscii: boolean): number {
  for (let i = start; i < end; i++) {
    let c = text.charCodeAt(i);
    if (lowerAscii && c >= 0x41 && c <= 0x5a) c |= 0x20;
    h ^= c;
    h = Math.imul(h, FNV_PRIME);
  }
  return h;
}
