import { fromBase64 } from "../../base64.ts";
import { MAX_DKIM_SIGNATURES } from "../../limits.ts";
import { DkimVerifier, type MailauthArcData, type MailauthDkimResult, type MailauthResolver, type MailauthSignatureHeader, writeToStream } from "./mailauth.js";
import { KeyMismatchError, verifySignature } from "./webcrypto.ts";

/**
 * mailauth's DKIM verifier, with the signature check done on WebCrypto.
 *
 * mailauth parses the header fields, canonicalises them, hashes the body, fetches and validates
 * the key record (key type, h= and s= restrictions, minimum RSA size) and builds the result; its
 * own last step, `crypto.verify("rsa-sha256", …)`, fails in workerd, whose node:crypto does not
 * know that digest name. So once mailauth has reached that step — the signature is well-formed,
 * its body hash matches and its key was found — the outcome is decided again here with
 * {@link verifySignature}, from the exact bytes mailauth canonicalised, in every runtime alike.
 * The newest ARC-Message-Signature goes through the same path.
 */
class EdgeDkimVerifier extends DkimVerifier {
  readonly #maxSignatures: number;
  #dkimSignatures = 0;
  /** DKIM-Signature fields past the cap, left unverified. */
  skipped = 0;

  constructor(resolver: MailauthResolver, now: Date, maxSignatures: number) {
    // Lenient mode (mailauth's default) with RFC 8301: rsa-sha1 is reported as `policy`, never `pass`.
    super({ resolver, curTime: now, rejectRsaSha1: true, strict: false });
    this.#maxSignatures = maxSignatures;
  }

  override prepareSignature(signatureHeader: MailauthSignatureHeader): void {
    if (signatureHeader.type === "DKIM" && ++this.#dkimSignatures > this.#maxSignatures) {
      // Skipped before its body hash is registered, so it costs no pass over the body.
      signatureHeader.skip = "too many signatures";
      this.skipped++;
      return;
    }
    super.prepareSignature(signatureHeader);
    if (signatureHeader.skip || signatureHeader.invalid) return;
    // RFC 6376 §3.5: d= is a domain name. mailauth's lenient mode only warns; a d= such as
    // "legitimate.com(.attacker.com" must not verify as anything.
    if (!isDomainName(signatureHeader.signingDomain ?? "")) signatureHeader.invalid = "signature syntax error";
    // RFC 6376 §8.15: a second From field lets a signature made over one author be shown with
    // another (most readers display the first). Such a message verifies for no one, as in dkimpy.
    else if (signatureHeader.type === "DKIM" && this.fromFields > 1) signatureHeader.invalid = "multiple From fields";
  }

  override async verifySignature(signatureHeader: MailauthSignatureHeader, fallback?: boolean): Promise<MailauthDkimResult> {
    const result = await super.verifySignature(signatureHeader, fallback);
    const status = result.status;
    const reachedSignatureCheck =
      !signatureHeader.invalid &&
      typeof result.publicKey === "string" &&
      result.bodyHash !== undefined &&
      result.bodyHash === result.bodyHashExpecting &&
      result.signingHeaders !== undefined &&
      status.result !== "policy";
    if (!reachedSignatureCheck) return result;

    delete status.comment;
    try {
      const valid = await verifySignature({
        signAlgo: signatureHeader.signAlgo ?? "",
        hashAlgo: signatureHeader.hashAlgo ?? "",
        publicKeyPem: result.publicKey!,
        data: new Uint8Array(fromBase64(result.signingHeaders!.canonicalizedHeader)),
        signature: new Uint8Array(fromBase64(String(signatureHeader.parsed?.b?.value ?? "").replace(/\s+/g, ""))),
      });
      status.result = valid ? "pass" : "fail";
      if (!valid) status.comment = "bad signature";
    } catch (error) {
      status.result = "neutral";
      status.comment = error instanceof KeyMismatchError ? "inappropriate key algorithm" : "malformed signature";
    }
    // The same validity rules mailauth applies after a good signature (RFC 6376 §3.5 x=).
    const { timestamp, expiration } = signatureHeader;
    if (status.result === "pass" && expiration) {
      if (timestamp && expiration < timestamp) {
        status.result = "neutral";
        status.comment = "invalid expiration";
      } else if (expiration < this.curTime) {
        status.result = "neutral";
        status.comment = "expired";
      }
    }
    return result;
  }
}

/**
 * A domain name as RFC 6376 §3.5 allows in d=: dot-separated labels of letters, digits and
 * hyphens; U-labels (RFC 8616) are let through for mailauth to convert.
 */
function isDomainName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 253 &&
    name.split(".").every((label) => /^(?:[A-Za-z0-9\u0080-\uffff](?:[A-Za-z0-9\u0080-\uffff-]*[A-Za-z0-9\u0080-\uffff])?)$/u.test(label) && label.length <= 63)
  );
}

export interface DkimOutcome {
  /** One result per verified DKIM-Signature, top-most first; empty for an unsigned message. */
  results: MailauthDkimResult[];
  /** DKIM-Signature fields not verified because of MAX_DKIM_SIGNATURES. */
  skipped: number;
  /** Addresses in From, and how many From fields there were (DMARC needs exactly one author domain). */
  headerFrom: string[];
  fromFields: number;
  /** The ARC chain as parsed, with the newest ARC-Message-Signature already verified. */
  arc: MailauthArcData;
}

/**
 * Verifies every DKIM-Signature (up to `maxSignatures`) and the newest ARC-Message-Signature of
 * a message at the time `now`.
 *
 * @example
 * const { results } = await verifyDkim(raw, dns.resolve, new Date());
 * results[0]?.status.result // "pass"
 */
export async function verifyDkim(raw: Uint8Array, resolver: MailauthResolver, now: Date, maxSignatures: number = MAX_DKIM_SIGNATURES): Promise<DkimOutcome> {
  if (!Number.isInteger(maxSignatures) || maxSignatures < 0) throw new RangeError(`maxSignatures must be a non-negative integer, got ${maxSignatures}`);
  const verifier = new EdgeDkimVerifier(resolver, now, maxSignatures);
  await writeToStream(verifier, raw);
  return {
    // mailauth adds a placeholder ("none", "message not signed") when there is no signature.
    results: verifier.results.filter((r) => r.signingDomain !== undefined),
    skipped: verifier.skipped,
    headerFrom: verifier.headerFrom,
    fromFields: verifier.fromFields,
    arc: verifier.arc,
  };
}
