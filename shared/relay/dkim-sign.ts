import { toBase64 } from "../base64.ts";
import { concatBytes } from "../bytes.ts";
import type { DkimAlgorithm, SigningKey } from "./dkim-keys.ts";
import { DkimSigner, formatSignatureHeaderLine, generateCanonicalizedHeader, getSigningHeaderLines, writeToStream } from "./mailauth.js";

/** A signature that was made: which domain, selector and algorithm. */
export interface DkimSignature {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
}

/** The message could not be signed (no From field, an unusable d= or s=): a bug or bad input, never silently unsigned. */
export class DkimSignError extends Error {
  override name = "DkimSignError";
}

/**
 * mailauth's DKIM signer with the signing step on WebCrypto.
 *
 * mailauth parses the header, picks the fields to sign (its default list: From, Sender, Reply-To,
 * Subject, Date, Message-ID, To, Cc, MIME-Version, Content-*, …, each instance from the bottom up),
 * canonicalises them and the body (relaxed/relaxed) and formats the DKIM-Signature field; its own
 * last step, `crypto.sign("rsa-sha256", …)` from node:crypto, fails in workerd, which does not know
 * that digest name (the same reason the verifier checks signatures on WebCrypto). So `finalize`,
 * which mailauth calls once the body is hashed, is done here with mailauth's own pieces and
 * `crypto.subtle.sign`: RSASSA-PKCS1-v1_5 over the canonical header, or Ed25519 over its SHA-256
 * (RFC 8463 §3).
 */
class WebCryptoDkimSigner extends DkimSigner {
  readonly #keys: readonly SigningKey[];
  failure: unknown = null;

  constructor(keys: readonly SigningKey[], signTime: Date) {
    super({
      // privateKey only has to be present for mailauth to hash the body; the CryptoKey signs below.
      signatureData: keys.map((k) => ({
        signingDomain: k.domain,
        selector: k.selector,
        privateKey: true,
        algorithm: k.algorithm,
        canonicalization: "relaxed/relaxed",
      })),
      signTime,
    });
    this.#keys = keys;
  }

  override async finalize(): Promise<void> {
    try {
      await this.#sign();
    } catch (err) {
      // Thrown inside the stream it would surface as an unhandled stream error; reported after instead.
      this.failure = err;
    }
  }

  async #sign(): Promise<void> {
    const headers = this.headers;
    if (headers === false) throw new DkimSignError("the message has no header");
    for (const [i, key] of this.#keys.entries()) {
      const data = this.signatureData[i]!;
      const lines = getSigningHeaderLines(headers.parsed, this.getFieldNames(data));
      // RFC 6376 §5.4: From must be signed; a signature without it verifies for no one.
      if (!lines.headers.some((h) => h.key === "from")) throw new DkimSignError("the message has no From field");
      try {
        this.validateSigningIdentifiers(data);
      } catch (err) {
        throw new DkimSignError(err instanceof Error ? err.message : String(err));
      }
      const { timestamp } = this.getTimestamps();
      const { canonicalization, bodyCanon } = this.getCanonicalization(data);
      const bodyHash = this.bodyHashes.get(`${bodyCanon}:sha256:`)?.hash;
      if (typeof bodyHash !== "string") throw new DkimSignError("the body hash is missing");
      const { canonicalizedHeader, dkimHeaderOpts } = generateCanonicalizedHeader("DKIM", lines, {
        ...data,
        identity: false,
        algorithm: key.algorithm,
        canonicalization,
        signTime: this.signTime,
        timestamp,
        expiration: false,
        bodyHash,
      });
      const signed = new Uint8Array(canonicalizedHeader);
      const signature =
        key.algorithm === "ed25519-sha256"
          ? await crypto.subtle.sign({ name: "Ed25519" }, key.key, await crypto.subtle.digest("SHA-256", signed))
          : await crypto.subtle.sign({ name: "RSASSA-PKCS1-v1_5" }, key.key, signed);
      dkimHeaderOpts.b = toBase64(new Uint8Array(signature));
      this.signatureHeaders.push(formatSignatureHeaderLine("DKIM", dkimHeaderOpts, true));
    }
  }
}

/**
 * Signs a message (CRLF line ends) with every key given and returns it with the DKIM-Signature
 * fields on top, in key order. No keys: the message unchanged.
 *
 * @example
 * const { raw: signed, signatures } = await dkimSign(raw, keyring.keysFor("app@example.com"));
 * signatures // [{ domain: "example.com", selector: "rsa2026", algorithm: "rsa-sha256" }]
 */
export async function dkimSign(
  raw: Uint8Array,
  keys: readonly SigningKey[],
  now: Date = new Date(),
): Promise<{ raw: Uint8Array; signatures: DkimSignature[] }> {
  if (keys.length === 0) return { raw, signatures: [] };
  const signer = new WebCryptoDkimSigner(keys, now);
  await writeToStream(signer, raw);
  if (signer.failure !== null) throw signer.failure instanceof Error ? signer.failure : new DkimSignError(String(signer.failure));
  if (signer.signatureHeaders.length !== keys.length) throw new DkimSignError("the message could not be signed");
  const fields = new TextEncoder().encode(signer.signatureHeaders.map((line) => `${line}\r\n`).join(""));
  return {
    raw: concatBytes([fields, raw]),
    signatures: keys.map((k) => ({ domain: k.domain, selector: k.selector, algorithm: k.algorithm })),
  };
}
