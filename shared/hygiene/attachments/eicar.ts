import { sha256Hex } from "../../directory/hash.ts";

/**
 * The EICAR anti-malware test file, recognised the way its specification defines it: the file
 * starts with the 68-character test string, optionally followed by whitespace (space, tab, CR,
 * LF, Ctrl-Z), at most 128 bytes in all. So the first 128 bytes of a file decide, whatever its size.
 *
 * The string is matched by its SHA-256, not spelled out: no copy of the test file sits in the
 * source tree, where scanners on developers' machines would quarantine it.
 */

/** Longest a file may be and still be the EICAR test file. */
export const EICAR_MAX_BYTES = 128;
export const EICAR_LENGTH = 68;
const EICAR_SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
/** The first characters, to rule most files out without hashing. */
export const EICAR_START = "X5O!P%@AP";
/** The whitespace the specification allows after the string: space, tab, LF, CR, Ctrl-Z. */
export const EICAR_TRAILING = " \t\n\r\x1a";
const START = [...EICAR_START].map((c) => c.charCodeAt(0));

/**
 * Whether a character code is white space the specification allows after the string (one of
 * {@link EICAR_TRAILING}).
 *
 * @example
 * isEicarTrailing(0x1a) // true: Ctrl-Z
 */
export function isEicarTrailing(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d || code === 0x1a;
}

/**
 * Whether a file is the EICAR test file.
 *
 * @param head the file's first bytes — at least EICAR_MAX_BYTES of them, or all of it.
 * @param size the file's size in bytes.
 * @example
 * await isEicar(bytes.subarray(0, 128), bytes.length) // true for eicar.com
 */
export async function isEicar(head: Uint8Array, size: number): Promise<boolean> {
  if (!mayBeEicar(head, size)) return false;
  return (await sha256Hex(head.slice(0, EICAR_LENGTH))) === EICAR_SHA256;
}

/**
 * Whether a file could be the EICAR test file by its size, first characters and trailer: what
 * {@link isEicar} checks before hashing, without a promise — nearly every file is ruled out here.
 *
 * @example
 * mayBeEicar(bytes.subarray(0, 128), bytes.length) // false for anything that does not start "X5O!P%@AP"
 */
export function mayBeEicar(head: Uint8Array, size: number): boolean {
  if (size < EICAR_LENGTH || size > EICAR_MAX_BYTES || head.length < size) return false;
  for (let i = 0; i < START.length; i++) if (head[i] !== START[i]) return false;
  for (let i = EICAR_LENGTH; i < size; i++) if (!isEicarTrailing(head[i]!)) return false;
  return true;
}
