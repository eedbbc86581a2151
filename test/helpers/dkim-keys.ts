import { toBase64 } from "../../shared/base64.ts";
import { StubResolver } from "../../shared/dns/stub.ts";
import { verifyDkim } from "../../shared/hygiene/auth/dkim.ts";
import { AuthDns } from "../../shared/hygiene/auth/resolver.ts";

/** A fresh DKIM key pair: the private key as PKCS#8 PEM (what DKIM_KEYS holds) and the DNS TXT record publishing it. */
export async function newDkimKey(type: "rsa" | "ed25519", bits = 2048): Promise<{ pem: string; base64: string; record: string }> {
  const pair = (
    type === "rsa"
      ? await crypto.subtle.generateKey({ name: "RSASSA-PKCS1-v1_5", modulusLength: bits, publicExponent: Uint8Array.of(1, 0, 1), hash: "SHA-256" }, true, [
          "sign",
          "verify",
        ])
      : await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])
  ) as CryptoKeyPair;
  // RFC 6376 publishes the SubjectPublicKeyInfo for RSA; RFC 8463 the raw 32-byte key for Ed25519.
  const publicKey = new Uint8Array((await crypto.subtle.exportKey(type === "rsa" ? "spki" : "raw", pair.publicKey)) as ArrayBuffer);
  const base64 = toBase64(new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer));
  return {
    pem: `-----BEGIN PRIVATE KEY-----\n${(base64.match(/.{1,64}/g) ?? []).join("\n")}\n-----END PRIVATE KEY-----\n`,
    base64,
    record: `v=DKIM1; k=${type}; p=${toBase64(publicKey)}`,
  };
}

/**
 * The project's own DKIM verification (shared/hygiene/auth) of a message, with a stub resolver
 * serving `records` ({"sel._domainkey.example.com": "v=DKIM1; …"}): one [domain, result] per signature.
 */
export async function verifyWithRecords(raw: Uint8Array, records: Record<string, string>, now = new Date()): Promise<[string, string][]> {
  const dns = new AuthDns(new StubResolver(Object.fromEntries(Object.entries(records).map(([name, record]) => [name, { TXT: [record] }]))));
  const { results } = await verifyDkim(raw, dns.resolve, now);
  return results.map((r) => [r.signingDomain ?? "", r.status.result]);
}
