import { hasBytes, u64le } from "./bytes.ts";

/** Where 7z's end header may be searched for the AES coder: enough for any real archive's header. */
const MAX_HEADER_SEARCH = 64 * 1024;
/** The 7z method id of 7zAES. */
const AES_CODER = [0x06, 0xf1, 0x07, 0x01];

/**
 * Whether a 7z archive is encrypted, from its end header: an encrypted archive (content or names)
 * lists the 7zAES coder there. 7z compresses its header by default, so the names of the files
 * inside cannot be read without LZMA, which is not available here.
 *
 * @returns true / false, or null when the archive is truncated or damaged.
 */
export function sevenZipEncrypted(bytes: Uint8Array): { encrypted: boolean | null; scanned: number } {
  if (!hasBytes(bytes, 0, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]) || bytes.length < 32) return { encrypted: null, scanned: 0 };
  const start = 32 + u64le(bytes, 12);
  const size = u64le(bytes, 20);
  if (start > bytes.length || size === 0) return { encrypted: null, scanned: 32 };
  const header = bytes.subarray(start, Math.min(start + size, start + MAX_HEADER_SEARCH));
  for (let i = 0; i + 4 <= header.length; i++) {
    if (header[i] === 0x06 && hasBytes(header, i, AES_CODER)) return { encrypted: true, scanned: 32 + i + 4 };
  }
  return { encrypted: false, scanned: 32 + header.length };
}
