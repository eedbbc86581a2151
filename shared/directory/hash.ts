/** Hashing for the directory snapshot: content hashes for blobs, keyed hashes for recipients. */

const encoder = new TextEncoder();

/** Bytes of a recipient's keyed hash kept in a shard. 128 bits: collisions are negligible at any directory size. */
export const RECIPIENT_HASH_BYTES = 16;

/** Lower-case hex SHA-256 of some bytes. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  // Message and blob bytes are always backed by a plain ArrayBuffer (never shared memory).
  const bytes = (typeof data === "string" ? encoder.encode(data) : data) as Uint8Array<ArrayBuffer>;
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * The secret the hub and every edge share to hash recipient addresses (HMAC-SHA-256). Without
 * it a copy of an edge's KV reveals no address, and dictionary attacks need the key too.
 */
/**
 * Addresses whose keyed hash an isolate remembers. The same recipients get mail all day; hashing
 * each message's recipient again costs a WebCrypto call (~10–40 µs), a lookup in this map almost
 * nothing. 16 bytes a hash plus the address: about 1 MB at the cap.
 */
const HASH_CACHE_ENTRIES = 8192;

let cachedKey: { secret: string; key: Promise<DirectoryKey> } | null = null;

export class DirectoryKey {
  readonly id: string;
  readonly #key: CryptoKey;
  readonly #cache = new Map<string, Uint8Array>();

  private constructor(key: CryptoKey, id: string) {
    this.#key = key;
    this.id = id;
  }

  /**
   * The key for a secret, imported once per isolate (again only if the secret changes). A failed
   * import (secret missing or too short) is not kept, so fixing the secret takes effect at once.
   *
   * @example
   * const key = await DirectoryKey.cached(env.DIRECTORY_KEY);
   */
  static cached(secret: string): Promise<DirectoryKey> {
    if (cachedKey === null || cachedKey.secret !== secret) {
      const key = DirectoryKey.import(secret);
      cachedKey = { secret, key };
      key.catch(() => {
        if (cachedKey?.key === key) cachedKey = null;
      });
    }
    return cachedKey.key;
  }

  /**
   * @example
   * const key = await DirectoryKey.import(env.DIRECTORY_KEY);
   * const h = await key.hashAddress("alice@example.com");
   */
  static async import(secret: string): Promise<DirectoryKey> {
    if (typeof secret !== "string" || secret.length < 16) {
      throw new Error("DIRECTORY_KEY must be set to a secret of at least 16 characters");
    }
    const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    // The key id lets an edge notice that its key differs from the hub's. Using such a snapshot
    // would make every recipient "unknown" and bounce real mail.
    const id = toHex(new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode("portcullis directory key id")))).slice(0, 16);
    return new DirectoryKey(key, id);
  }

  /** HMAC-SHA-256 of a text under this key, whole: for keyed hashes other than the directory's (log lines). */
  async mac(text: string): Promise<Uint8Array> {
    return new Uint8Array(await crypto.subtle.sign("HMAC", this.#key, encoder.encode(text)));
  }

  /** The truncated keyed hash of a normalised address. */
  async hashAddress(normalisedAddress: string): Promise<Uint8Array> {
    const cached = this.#cache.get(normalisedAddress);
    if (cached !== undefined) return cached;
    const mac = await crypto.subtle.sign("HMAC", this.#key, encoder.encode(normalisedAddress));
    const hash = new Uint8Array(mac, 0, RECIPIENT_HASH_BYTES);
    // Oldest first out: Map iteration follows insertion order.
    if (this.#cache.size >= HASH_CACHE_ENTRIES) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(normalisedAddress, hash);
    return hash;
  }
}
