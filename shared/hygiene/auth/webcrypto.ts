/**
 * DKIM signature checks on WebCrypto. workerd's node:crypto refuses the digest name mailauth
 * passes for RSA ("Unknown digest: rsa-sha256"), so the cryptographic step runs here instead, on
 * the API every runtime has: RSASSA-PKCS1-v1_5 with SHA-256 (or SHA-1, RFC 6376 §3.3.1), and
 * Ed25519 over the SHA-256 of the data (RFC 8463 §3).
 */

import { fromBase64 } from "../../base64.ts";
import { concatBytes } from "../../bytes.ts";

/** The key does not suit the signature's algorithm (an RSA key for an Ed25519 signature, say). */
export class KeyMismatchError extends Error {
  override name = "KeyMismatchError";
}

export interface SignatureCheck {
  /** "rsa" or "ed25519", from the signature's a= tag. */
  signAlgo: string;
  /** "sha256" or "sha1". */
  hashAlgo: string;
  /** The public key as PEM: "RSA PUBLIC KEY" (PKCS#1) or "PUBLIC KEY" (SubjectPublicKeyInfo). */
  publicKeyPem: string;
  /** The exact bytes that were signed (the canonicalised header block). */
  data: Uint8Array<ArrayBuffer>;
  signature: Uint8Array<ArrayBuffer>;
}

/**
 * Checks one DKIM or ARC signature. True or false for a signature that does or does not match;
 * throws {@link KeyMismatchError} when the key cannot be used for the algorithm at all.
 *
 * @example
 * await verifySignature({ signAlgo: "rsa", hashAlgo: "sha256", publicKeyPem, data, signature }) // true
 */
export async function verifySignature(check: SignatureCheck): Promise<boolean> {
  const spki = spkiFromPem(check.publicKeyPem);
  // Checked here rather than left to importKey: not every runtime refuses an RSA key imported as Ed25519.
  const keyType = spkiKeyType(spki);
  if (keyType !== check.signAlgo) throw new KeyMismatchError(`a ${keyType ?? "unknown"} key cannot check an ${check.signAlgo} signature`);
  let key: CryptoKey;
  let algorithm: { name: string };
  let data = check.data;
  try {
    if (check.signAlgo === "ed25519") {
      algorithm = { name: "Ed25519" };
      key = await crypto.subtle.importKey("spki", spki, algorithm, false, ["verify"]);
      data = new Uint8Array(await crypto.subtle.digest("SHA-256", check.data));
    } else if (check.signAlgo === "rsa" && (check.hashAlgo === "sha256" || check.hashAlgo === "sha1")) {
      algorithm = { name: "RSASSA-PKCS1-v1_5" };
      key = await crypto.subtle.importKey("spki", spki, { name: "RSASSA-PKCS1-v1_5", hash: check.hashAlgo === "sha1" ? "SHA-1" : "SHA-256" }, false, [
        "verify",
      ]);
    } else {
      throw new KeyMismatchError(`unsupported algorithm ${check.signAlgo}-${check.hashAlgo}`);
    }
  } catch (error) {
    if (error instanceof KeyMismatchError) throw error;
    throw new KeyMismatchError(`key does not suit ${check.signAlgo}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return await crypto.subtle.verify(algorithm, key, check.signature, data);
  } catch {
    // A signature of the wrong length for the key is a signature that does not verify.
    return false;
  }
}

const RSA_ENCRYPTION_OID = Uint8Array.of(0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01);
const DER_NULL = Uint8Array.of(0x05, 0x00);

/** The DER SubjectPublicKeyInfo of a PEM public key, wrapping a PKCS#1 RSAPublicKey (RFC 3279 §2.3.1). */
export function spkiFromPem(pem: string): Uint8Array<ArrayBuffer> {
  const match = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (match === null) throw new KeyMismatchError("not a PEM key");
  const der = new Uint8Array(fromBase64(match[2]!.replace(/\s+/g, "")));
  if (match[1] === "PUBLIC KEY") return der;
  if (match[1] === "RSA PUBLIC KEY") {
    const algorithm = derElement(0x30, concatBytes([RSA_ENCRYPTION_OID, DER_NULL]));
    return derElement(0x30, concatBytes([algorithm, derElement(0x03, concatBytes([Uint8Array.of(0), der]))]));
  }
  throw new KeyMismatchError(`unexpected PEM type ${match[1]}`);
}

const ED25519_OID = Uint8Array.of(0x06, 0x03, 0x2b, 0x65, 0x70);

/** The key type a SubjectPublicKeyInfo names in its AlgorithmIdentifier, if it is one DKIM uses. */
export function spkiKeyType(spki: Uint8Array): "rsa" | "ed25519" | null {
  // SEQUENCE { SEQUENCE { OBJECT IDENTIFIER, … }, BIT STRING }
  const inner = skipHeader(spki, 0);
  if (inner === null || spki[inner] !== 0x30) return null;
  const oid = skipHeader(spki, inner);
  if (oid === null) return null;
  const startsWith = (bytes: Uint8Array) => bytes.every((b, i) => spki[oid + i] === b);
  if (startsWith(RSA_ENCRYPTION_OID)) return "rsa";
  if (startsWith(ED25519_OID)) return "ed25519";
  return null;
}

/** Where the contents of the DER element at `offset` start, or null if it is not a SEQUENCE. */
function skipHeader(der: Uint8Array, offset: number): number | null {
  if (der[offset] !== 0x30 || offset + 1 >= der.length) return null;
  const length = der[offset + 1]!;
  return offset + 2 + (length < 0x80 ? 0 : length & 0x7f);
}

/** One DER TLV: tag, definite length, contents. */
export function derElement(tag: number, contents: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = contents.byteLength;
  let header: number[];
  if (length < 0x80) header = [tag, length];
  else {
    const lengthBytes: number[] = [];
    for (let n = length; n > 0; n = Math.floor(n / 256)) lengthBytes.unshift(n & 0xff);
    header = [tag, 0x80 | lengthBytes.length, ...lengthBytes];
  }
  return concatBytes([Uint8Array.from(header), contents]);
}
