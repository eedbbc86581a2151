import { fromBase64 } from "../base64.ts";
import { concatBytes } from "../bytes.ts";
import { normaliseDomain } from "../directory/address.ts";
import { derElement } from "../hygiene/auth/webcrypto.ts";

/**
 * DKIM signing keys for the relay, from one JSON document (the edge's `DKIM_KEYS` secret):
 *
 *   {
 *     "example.com": [
 *       { "selector": "rsa2026", "algorithm": "rsa-sha256", "privateKey": "-----BEGIN PRIVATE KEY-----\n…" },
 *       { "selector": "ed2026", "algorithm": "ed25519-sha256", "privateKey": "MC4CAQAwBQYDK2VwBCIEI…" }
 *     ]
 *   }
 *
 * A domain maps to one key or a list; with a list every message gets one signature per key (RFC
 * 8463 §4 recommends signing with both RSA and Ed25519 while receivers learn Ed25519). A private
 * key is PEM ("PRIVATE KEY" = PKCS#8, "RSA PRIVATE KEY" = PKCS#1), base64 DER PKCS#8, or for
 * Ed25519 the base64 32-byte seed.
 */

export type DkimAlgorithm = "rsa-sha256" | "ed25519-sha256";

/** One key, imported and ready to sign. */
export interface SigningKey {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  key: CryptoKey;
}

/** The key set is unusable: a configuration error, reported without any key material. */
export class DkimKeyError extends Error {
  override name = "DkimKeyError";
}

/** RFC 8301 §3.2: verifiers must not accept RSA keys shorter than this, so signing with one is pointless. */
const MIN_RSA_BITS = 1024;

const SELECTOR = /^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?)*$/i;

const RSA_ALGORITHM_ID = derElement(0x30, Uint8Array.of(0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00));
const ED25519_ALGORITHM_ID = derElement(0x30, Uint8Array.of(0x06, 0x03, 0x2b, 0x65, 0x70));
const VERSION_0 = Uint8Array.of(0x02, 0x01, 0x00);

/** The DER PKCS#8 of a private key in any of the accepted forms. */
function pkcs8Of(text: string, algorithm: DkimAlgorithm): Uint8Array<ArrayBuffer> {
  const pem = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  const body = (pem === null ? text : pem[2]!).replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new DkimKeyError("the private key is neither PEM nor base64");
  const der = new Uint8Array(fromBase64(body));
  if (pem !== null && pem[1] === "RSA PRIVATE KEY") {
    // PKCS#1 RSAPrivateKey (openssl genrsa -traditional) wrapped as PKCS#8 (RFC 5208).
    return derElement(0x30, concatBytes([VERSION_0, RSA_ALGORITHM_ID, derElement(0x04, der)]));
  }
  if (pem !== null && pem[1] !== "PRIVATE KEY") throw new DkimKeyError(`unexpected PEM type ${pem[1]} (use PKCS#8 "PRIVATE KEY")`);
  if (algorithm === "ed25519-sha256" && der.length === 32) {
    // A bare Ed25519 seed (the form dkimpy and rspamd key files use): CurvePrivateKey in PKCS#8 (RFC 8410).
    return derElement(0x30, concatBytes([VERSION_0, ED25519_ALGORITHM_ID, derElement(0x04, derElement(0x04, der))]));
  }
  return der;
}

async function importKey(text: string, algorithm: DkimAlgorithm): Promise<CryptoKey> {
  const pkcs8 = pkcs8Of(text, algorithm);
  let key: CryptoKey;
  try {
    key =
      algorithm === "rsa-sha256"
        ? await crypto.subtle.importKey("pkcs8", pkcs8, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"])
        : await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  } catch {
    throw new DkimKeyError(`the private key is not a valid ${algorithm === "rsa-sha256" ? "RSA" : "Ed25519"} key`);
  }
  if (algorithm === "rsa-sha256") {
    const bits = (key.algorithm as { modulusLength?: number }).modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new DkimKeyError(`the RSA key has ${bits} bits; at least ${MIN_RSA_BITS} are needed (2048 recommended)`);
  }
  return key;
}

function algorithmOf(value: unknown): DkimAlgorithm {
  if (value === "rsa-sha256" || value === "rsa") return "rsa-sha256";
  if (value === "ed25519-sha256" || value === "ed25519") return "ed25519-sha256";
  throw new DkimKeyError('algorithm must be "rsa-sha256" or "ed25519-sha256"');
}

/** The signing keys of every configured domain. */
export class DkimKeyring {
  readonly #byDomain: Map<string, SigningKey[]>;

  private constructor(byDomain: Map<string, SigningKey[]>) {
    this.#byDomain = byDomain;
  }

  /** No keys: every message goes out unsigned. */
  static readonly EMPTY = new DkimKeyring(new Map());

  /**
   * Parses and imports a key set. Throws {@link DkimKeyError} naming the domain and selector at
   * fault (never the key).
   *
   * @example
   * const ring = await DkimKeyring.parse(env.DKIM_KEYS);
   * ring.keysFor("app@mail.example.com") // the keys of mail.example.com, else of example.com
   */
  static async parse(json: string | undefined | null): Promise<DkimKeyring> {
    if (json === undefined || json === null || json.trim() === "") return DkimKeyring.EMPTY;
    let document: unknown;
    try {
      document = JSON.parse(json);
    } catch {
      throw new DkimKeyError("DKIM_KEYS is not JSON");
    }
    if (typeof document !== "object" || document === null || Array.isArray(document)) throw new DkimKeyError("DKIM_KEYS must be an object keyed by domain");
    const byDomain = new Map<string, SigningKey[]>();
    for (const [name, entries] of Object.entries(document)) {
      const domain = normaliseDomain(name);
      if (domain === null || domain.startsWith("[")) throw new DkimKeyError(`DKIM_KEYS: "${name.slice(0, 100)}" is not a domain name`);
      const keys: SigningKey[] = [];
      for (const entry of Array.isArray(entries) ? entries : [entries]) {
        if (typeof entry !== "object" || entry === null)
          throw new DkimKeyError(`DKIM_KEYS[${domain}]: each key is an object {selector, algorithm, privateKey}`);
        const { selector, algorithm, privateKey } = entry as Record<string, unknown>;
        if (typeof selector !== "string" || !SELECTOR.test(selector) || selector.length > 63)
          throw new DkimKeyError(`DKIM_KEYS[${domain}]: selector must be a DNS label (letters, digits, '-', '_')`);
        const where = `DKIM_KEYS[${domain}] selector ${selector}`;
        if (typeof privateKey !== "string") throw new DkimKeyError(`${where}: privateKey must be a string`);
        try {
          const alg = algorithmOf(algorithm);
          keys.push({ domain, selector, algorithm: alg, key: await importKey(privateKey, alg) });
        } catch (err) {
          throw new DkimKeyError(`${where}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (keys.length > 0) byDomain.set(domain, keys);
    }
    return new DkimKeyring(byDomain);
  }

  /**
   * The keys for mail from `address` (or a domain): those of its domain, else of the nearest
   * parent domain that has any (a signature by a parent domain aligns under DMARC's relaxed mode).
   */
  keysFor(addressOrDomain: string): SigningKey[] {
    const at = addressOrDomain.lastIndexOf("@");
    const labels = addressOrDomain
      .slice(at + 1)
      .toLowerCase()
      .split(".");
    for (let i = 0; i < labels.length - 1; i++) {
      const keys = this.#byDomain.get(labels.slice(i).join("."));
      if (keys !== undefined) return keys;
    }
    return [];
  }

  get domains(): string[] {
    return [...this.#byDomain.keys()];
  }
}
