/**
 * Types for the mailauth 7.1 signer modules re-exported by mailauth.js: only what the relay's
 * signer uses. Declared here rather than taken from the package, whose definitions reference
 * Node's types.
 */

/** One header field as mailauth parsed it: `key` lower case, `casedKey` as written, `line` the raw bytes. */
export interface MailauthHeaderRow {
  key: string;
  casedKey: string;
  line: Uint8Array;
}

export interface MailauthParsedHeaders {
  parsed: MailauthHeaderRow[];
}

/** One signature the signer is asked to make; `privateKey` only has to be truthy for mailauth to hash the body. */
export interface MailauthSignatureData {
  type?: "DKIM";
  signingDomain: string;
  selector: string;
  privateKey: unknown;
  algorithm: string;
  canonicalization: string;
  maxBodyLength?: number | "";
}

export interface MailauthSigningHeaderLines {
  keys: string;
  headers: MailauthHeaderRow[];
}

/** The streaming DKIM signer (a Node Writable): parses the header, hashes the body, then calls finalize(). */
export class DkimSigner {
  constructor(options: { signatureData: MailauthSignatureData[]; signTime?: Date; headerList?: string | string[]; strict?: boolean });
  headers: MailauthParsedHeaders | false;
  signatureData: MailauthSignatureData[];
  signatureHeaders: string[];
  bodyHashes: Map<string, { hash: string | null }>;
  signTime: Date | undefined;
  errors: { err: Error }[];
  /** Header fields the signature covers, as a colon-separated list. */
  getFieldNames(signatureData: MailauthSignatureData): string;
  /** Throws for a d= or s= that is not safe to put into the header. */
  validateSigningIdentifiers(signatureData: MailauthSignatureData): void;
  /** t= and x= in seconds, false for a tag left out. */
  getTimestamps(): { timestamp: number | false; expiration: number | false };
  getCanonicalization(signatureData: MailauthSignatureData): { canonicalization: string; headerCanon: string; bodyCanon: string };
  /** Called once the body is hashed: makes the signatures. */
  finalize(): Promise<void>;
}

export function getSigningHeaderLines(parsedHeaders: MailauthHeaderRow[], fieldNames: string, verify?: boolean): MailauthSigningHeaderLines;

/** The bytes a signature covers (canonicalised header fields, then its own field with an empty b=), and its tags. */
export function generateCanonicalizedHeader(
  type: "DKIM",
  signingHeaderLines: MailauthSigningHeaderLines,
  options: Record<string, unknown>,
): { canonicalizedHeader: Uint8Array; signatureHeaderLine: string; dkimHeaderOpts: Record<string, unknown> };

/** `DKIM-Signature: v=1; a=…` from the tags, folded when asked. */
export function formatSignatureHeaderLine(type: "DKIM", values: Record<string, unknown>, folded: boolean): string;

/** Writes the message into a signer and waits until it has finished. */
export function writeToStream(stream: DkimSigner, input: Uint8Array): Promise<void>;
