/**
 * Types for the mailauth 7.1 modules re-exported by mailauth.js: only what this project reads.
 * Declared here rather than taken from the package, whose definitions reference Node's types.
 */

/**
 * mailauth's DNS callback, shaped like node:dns `resolve`: TXT answers as arrays of strings, MX
 * as `{ exchange, priority }`, and failures thrown as errors whose `code` says what happened
 * (ENOTFOUND / ENODATA for no records, anything else a temporary error).
 */
export type MailauthResolver = (name: string, rrtype: string) => Promise<unknown>;

export interface MailauthDkimStatus {
  result: string;
  comment?: string | false;
  header?: { i?: string | false; d?: string | false; s?: string; a?: string; b?: string | false };
  aligned?: string | false;
  testing?: boolean;
  policy?: Record<string, string>;
  underSized?: number;
  warnings?: string[];
}

/** One verified signature (a DKIM-Signature, or the newest ARC-Message-Signature). */
export interface MailauthDkimResult {
  id?: string;
  signingDomain?: string;
  selector?: string;
  algo?: string;
  bodyHash?: string;
  bodyHashExpecting?: string;
  /** `canonicalizedHeader` is base64 of the exact bytes the signature covers. */
  signingHeaders?: { keys: string; headers: string[]; canonicalizedHeader: string };
  /** The key as PEM: PKCS#1 "RSA PUBLIC KEY" for RSA, SubjectPublicKeyInfo for Ed25519. */
  publicKey?: string;
  modulusLength?: number;
  status: MailauthDkimStatus;
  info?: string;
}

/** A parsed DKIM-Signature or ARC header field, as the verifier prepares it. */
export interface MailauthSignatureHeader {
  type: "DKIM" | "ARC";
  parsed?: Record<string, { value?: unknown } | undefined>;
  algorithm?: string;
  signAlgo?: string;
  hashAlgo?: string;
  signingDomain?: string;
  selector?: string;
  timestamp?: Date | null;
  expiration?: Date | null;
  /** Set when the signature is left out of the results (lenient mode). */
  skip?: string;
  /** Set when the signature is reported as neutral without a key lookup. */
  invalid?: string;
}

/** An ARC-Authentication-Results value: `value` is the authserv-id; methods carry `value` (their result) and `header`/`smtp` properties. */
export interface MailauthAuthResults {
  value?: string;
  dkim?: { value?: string; header?: Record<string, unknown> }[];
  spf?: { value?: string; smtp?: Record<string, unknown> };
  dmarc?: { value?: string; result?: string; header?: Record<string, unknown> };
  arc?: { value?: string };
}

export interface MailauthArcSet {
  i: number;
  "arc-seal": MailauthSignatureHeader;
  "arc-message-signature": MailauthSignatureHeader;
  "arc-authentication-results": { parsed?: MailauthAuthResults };
}

export interface MailauthArcData {
  chain: MailauthArcSet[] | false;
  lastEntry?: MailauthArcSet;
  error?: Error;
  warnings: string[];
}

export interface MailauthDkimVerifierOptions {
  resolver: MailauthResolver;
  curTime?: Date;
  minBitLength?: number;
  rejectRsaSha1?: boolean;
  strict?: boolean;
}

/** The streaming DKIM verifier (a Node Writable): headers, body hashes, key lookups, results. */
export class DkimVerifier {
  constructor(options: MailauthDkimVerifierOptions);
  results: MailauthDkimResult[];
  /** Every address in From (RFC 6854 groups included). */
  headerFrom: string[];
  fromFields: number;
  arc: MailauthArcData;
  curTime: Date;
  /** Validates a signature's tags; sets `skip` or `invalid` on it. */
  prepareSignature(signatureHeader: MailauthSignatureHeader): void;
  /** Canonicalises, looks the key up and checks one signature. */
  verifySignature(signatureHeader: MailauthSignatureHeader, fallback?: boolean): Promise<MailauthDkimResult>;
}

/** Writes the message into a verifier and waits until it has finished. */
export function writeToStream(stream: DkimVerifier, input: Uint8Array): Promise<void>;

export interface MailauthSpfResponse {
  domain: string;
  status: { result: string; comment?: string };
  /** The domain's explanation (exp=), only for a fail. */
  explanation?: string;
  info?: string;
}

export function spf(options: {
  ip: string;
  sender?: string;
  helo?: string;
  mta: string;
  resolver: MailauthResolver;
  maxElapsedTime?: number;
}): Promise<MailauthSpfResponse>;

export interface MailauthDmarcResponse {
  status: { result: string; comment?: string; header: { from: string; d?: string }; policy?: { dmarc: string } };
  /** The Organizational Domain, or the Author Domain when it is not known. */
  domain: string;
  /** The policy after sp=/np= and t=y are applied. */
  policy?: "none" | "quarantine" | "reject";
  alignment?: { spf: { result?: string | false; strict: boolean }; dkim: { result?: string | false; strict: boolean } };
  error?: string;
  info?: string;
}

export function evaluateDmarc(options: {
  headerFrom: string[];
  fromFields: number;
  spfDomains: string[];
  dkimDomains: { id?: string; domain: string; aligned?: string | false; underSized?: number }[];
  arcResult?: MailauthArcResult;
  resolver: MailauthResolver;
}): Promise<{ response: MailauthDmarcResponse | false; reason?: string }>;

export interface MailauthArcResult {
  status: { result: string; comment?: string };
  i?: number | false;
  info?: string;
}

export function arc(data: MailauthArcData, options: { resolver: MailauthResolver; minBitLength?: number }): Promise<MailauthArcResult>;

/** ARC sealers mailauth's maintainers list as trustworthy (Gmail, Microsoft 365, Fastmail, …). */
export const arcCommunitySealers: string[];
