import { describe, expect, it } from "vitest";
import { toBase64 } from "../../../../../shared/base64.ts";
import { KeyMismatchError, spkiFromPem, verifySignature } from "../../../../../shared/hygiene/auth/webcrypto.ts";

const pem = (label: string, der: Uint8Array) => `-----BEGIN ${label}-----\n${(toBase64(der).match(/.{1,64}/g) ?? []).join("\n")}\n-----END ${label}-----\n`;
const data = new Uint8Array(new TextEncoder().encode("from:Alice <alice@example.org>\r\nsubject:Hi\r\ndkim-signature:v=1; b="));

async function rsaPair(hash: "SHA-256" | "SHA-1" = "SHA-256") {
  const pair = (await crypto.subtle.generateKey({ name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: Uint8Array.of(1, 0, 1), hash }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
  return { pair, spki };
}

/** The RSAPublicKey inside a SubjectPublicKeyInfo: the BIT STRING's contents (RFC 3279 §2.3.1). */
function pkcs1Of(spki: Uint8Array): Uint8Array {
  // SEQUENCE { SEQUENCE { OID, NULL } (15 bytes), BIT STRING { 0x00, RSAPublicKey } }
  const outerHeader = spki[1]! < 0x80 ? 2 : 2 + (spki[1]! & 0x7f);
  const bitString = outerHeader + 15;
  const lengthBytes = spki[bitString + 1]! < 0x80 ? 0 : spki[bitString + 1]! & 0x7f;
  return spki.subarray(bitString + 2 + lengthBytes + 1);
}

describe("DKIM signature checks on WebCrypto", () => {
  it("wraps a PKCS#1 RSA public key into the SubjectPublicKeyInfo WebCrypto imports", async () => {
    const { spki } = await rsaPair();
    expect(spkiFromPem(pem("RSA PUBLIC KEY", pkcs1Of(spki)))).toEqual(spki);
    expect(spkiFromPem(pem("PUBLIC KEY", spki))).toEqual(spki);
    expect(() => spkiFromPem(pem("CERTIFICATE", spki))).toThrow(KeyMismatchError);
  });

  it.each(["sha256", "sha1"] as const)("verifies rsa-%s: a good signature passes, a changed byte fails", async (hashAlgo) => {
    const { pair, spki } = await rsaPair(hashAlgo === "sha1" ? "SHA-1" : "SHA-256");
    const signature = new Uint8Array(await crypto.subtle.sign({ name: "RSASSA-PKCS1-v1_5" }, pair.privateKey, data));
    const check = { signAlgo: "rsa", hashAlgo, publicKeyPem: pem("RSA PUBLIC KEY", pkcs1Of(spki)), data, signature };
    expect(await verifySignature(check)).toBe(true);
    const changed = data.slice();
    changed[0] = 0x46; // "F"
    expect(await verifySignature({ ...check, data: changed })).toBe(false);
    expect(await verifySignature({ ...check, signature: signature.subarray(1) })).toBe(false);
  });

  it("verifies ed25519-sha256 over the SHA-256 of the data (RFC 8463 §3)", async () => {
    const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
    const prehash = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
    const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, prehash));
    const check = { signAlgo: "ed25519", hashAlgo: "sha256", publicKeyPem: pem("PUBLIC KEY", spki), data, signature };
    expect(await verifySignature(check)).toBe(true);
    // A signature over the data itself, not its hash, is not an RFC 8463 signature.
    const direct = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, data));
    expect(await verifySignature({ ...check, signature: direct })).toBe(false);
  });

  it("throws KeyMismatchError for a key that does not suit the algorithm", async () => {
    const { spki } = await rsaPair();
    const check = { signAlgo: "ed25519", hashAlgo: "sha256", publicKeyPem: pem("PUBLIC KEY", spki), data, signature: new Uint8Array(64) };
    await expect(verifySignature(check)).rejects.toBeInstanceOf(KeyMismatchError);
    await expect(verifySignature({ ...check, signAlgo: "rsa", hashAlgo: "sha512" })).rejects.toBeInstanceOf(KeyMismatchError);
  });
});
