/**
 * A small DKIM signer on WebCrypto (RFC 6376 §3.4 canonicalisation, §3.7 hashes, RFC 8463
 * Ed25519), for building signed test messages inside workerd. Not used in production: the edge
 * only verifies.
 */
import { toBase64 } from "../../../../../shared/base64.ts";
import { concatBytes as concat } from "../../../../../shared/bytes.ts";
import { derElement } from "../../../../../shared/hygiene/auth/webcrypto.ts";

export type DkimAlgorithm = "rsa-sha256" | "rsa-sha1" | "ed25519-sha256";
export type Canonicalization = "simple" | "relaxed";

export interface SignOptions {
  domain: string;
  selector: string;
  key: CryptoKey;
  algorithm?: DkimAlgorithm;
  header?: Canonicalization;
  body?: Canonicalization;
  /** Header fields to sign (names); default from, to, subject, date, message-id. */
  headers?: string[];
  /** Add l= with the canonical body length. */
  bodyLength?: boolean;
  /** t= and x= (seconds since the epoch). */
  timestamp?: number;
  expiration?: number;
  /** i= (the AUID). */
  identity?: string;
}

/** Bytes as a string of one char per byte, so any charset survives the string handling unchanged. */
export const binary = (bytes: Uint8Array): string => Array.from(bytes, (b) => String.fromCharCode(b)).join("");
export const bytesOfBinary = (text: string): Uint8Array<ArrayBuffer> => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);

/** The message with every line ending as CRLF, as verifiers read it. */
export function crlf(message: string): string {
  return message.replace(/\r?\n/g, "\r\n");
}

function split(message: string): { fields: string[]; body: string } {
  const text = crlf(message);
  const end = text.indexOf("\r\n\r\n");
  const head = end === -1 ? text : text.slice(0, end + 2);
  const body = end === -1 ? "" : text.slice(end + 4);
  const fields: string[] = [];
  for (const line of head.split(/(?<=\r\n)/)) {
    if (line === "") continue;
    if ((line.startsWith(" ") || line.startsWith("\t")) && fields.length > 0) fields[fields.length - 1] += line;
    else fields.push(line);
  }
  return { fields, body };
}

function canonHeader(field: string, mode: Canonicalization): string {
  if (mode === "simple") return field.endsWith("\r\n") ? field : `${field}\r\n`;
  const colon = field.indexOf(":");
  const name = field.slice(0, colon).trim().toLowerCase();
  const value = field
    .slice(colon + 1)
    .replace(/\r\n/g, "")
    .replace(/[ \t]+/g, " ")
    .trim();
  return `${name}:${value}\r\n`;
}

export function canonBody(body: string, mode: Canonicalization): string {
  if (mode === "simple") {
    const trimmed = body.replace(/(\r\n)*$/, "");
    return `${trimmed}\r\n`;
  }
  const lines = body.split("\r\n").map((line) => line.replace(/[ \t]+/g, " ").replace(/ $/, ""));
  let text = lines.join("\r\n").replace(/(\r\n)*$/, "");
  if (text !== "") text += "\r\n";
  return text;
}

async function digest(algorithm: "SHA-256" | "SHA-1", data: string | Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest(algorithm, typeof data === "string" ? bytesOfBinary(data) : data));
}

/**
 * Signs a message (a string is taken as UTF-8) and returns it, with CRLF line ends, under its new
 * DKIM-Signature field.
 *
 * @example
 * const signed = await signMessage(message, { domain: "example.org", selector: "s1", key: privateKey });
 */
export async function signMessage(input: string | Uint8Array, options: SignOptions): Promise<Uint8Array<ArrayBuffer>> {
  const message = binary(typeof input === "string" ? new TextEncoder().encode(input) : input);
  const algorithm = options.algorithm ?? "rsa-sha256";
  const headerMode = options.header ?? "relaxed";
  const bodyMode = options.body ?? "relaxed";
  const names = options.headers ?? ["from", "to", "subject", "date", "message-id"];
  const { fields, body } = split(message);
  const hash = algorithm === "rsa-sha1" ? "SHA-1" : "SHA-256";
  const canonicalBody = canonBody(body, bodyMode);
  const bh = toBase64(await digest(hash, canonicalBody));

  const tags = [`v=1`, `a=${algorithm}`, `c=${headerMode}/${bodyMode}`, `d=${options.domain}`, `s=${options.selector}`];
  if (options.identity !== undefined) tags.push(`i=${options.identity}`);
  if (options.timestamp !== undefined) tags.push(`t=${options.timestamp}`);
  if (options.expiration !== undefined) tags.push(`x=${options.expiration}`);
  if (options.bodyLength) tags.push(`l=${canonicalBody.length}`);
  tags.push(`h=${names.join(":")}`, `bh=${bh}`, `b=`);
  const unsigned = `DKIM-Signature: ${tags.join("; ")}`;

  // RFC 6376 §5.4.2: each named field is taken from the bottom up; a missing one adds nothing.
  const used = new Set<number>();
  let data = "";
  for (const name of names) {
    for (let i = fields.length - 1; i >= 0; i--) {
      const field = fields[i]!;
      if (used.has(i) || field.slice(0, field.indexOf(":")).trim().toLowerCase() !== name.toLowerCase()) continue;
      used.add(i);
      data += canonHeader(field, headerMode);
      break;
    }
  }
  data += canonHeader(unsigned, headerMode).replace(/\r\n$/, "");

  let signature: ArrayBuffer;
  if (algorithm === "ed25519-sha256") signature = await crypto.subtle.sign({ name: "Ed25519" }, options.key, await digest("SHA-256", data));
  else signature = await crypto.subtle.sign({ name: "RSASSA-PKCS1-v1_5" }, options.key, bytesOfBinary(data));
  return bytesOfBinary(`${unsigned}${toBase64(new Uint8Array(signature))}\r\n${crlf(message)}`);
}

const RSA_ALGORITHM_ID = derElement(0x30, Uint8Array.of(0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00));
const ED25519_ALGORITHM_ID = derElement(0x30, Uint8Array.of(0x06, 0x03, 0x2b, 0x65, 0x70));

function pemBody(pem: string): { label: string; der: Uint8Array<ArrayBuffer> } {
  const match = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END/.exec(pem);
  if (match === null) throw new Error("not PEM");
  const binary = atob(match[2]!.replace(/\s+/g, ""));
  return { label: match[1]!, der: Uint8Array.from(binary, (c) => c.charCodeAt(0)) };
}

/** An RSA private key from PEM, PKCS#1 ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY"), for signing with `hash`. */
export async function importRsaPrivateKey(pem: string, hash: "SHA-256" | "SHA-1" = "SHA-256"): Promise<CryptoKey> {
  const { label, der } = pemBody(pem);
  // PKCS#8 PrivateKeyInfo: version 0, rsaEncryption, the PKCS#1 key in an OCTET STRING (RFC 5208).
  const pkcs8 = label === "RSA PRIVATE KEY" ? derElement(0x30, concat([Uint8Array.of(0x02, 0x01, 0x00), RSA_ALGORITHM_ID, derElement(0x04, der)])) : der;
  return crypto.subtle.importKey("pkcs8", pkcs8, { name: "RSASSA-PKCS1-v1_5", hash }, false, ["sign"]);
}

/** An Ed25519 private key from its 32-byte seed in base64 (the form dkimpy's key files use). */
export async function importEd25519Seed(seedBase64: string): Promise<CryptoKey> {
  const seed = Uint8Array.from(atob(seedBase64.trim()), (c) => c.charCodeAt(0));
  const pkcs8 = derElement(0x30, concat([Uint8Array.of(0x02, 0x01, 0x00), ED25519_ALGORITHM_ID, derElement(0x04, derElement(0x04, seed))]));
  return crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
}

/** A fresh key pair and the DKIM key record publishing it. */
export async function generateDkimKey(type: "rsa" | "ed25519" = "rsa"): Promise<{ privateKey: CryptoKey; record: string; pkcs8Pem: string }> {
  const pair = (
    type === "rsa"
      ? await crypto.subtle.generateKey({ name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1), hash: "SHA-256" }, true, [
          "sign",
          "verify",
        ])
      : await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])
  ) as CryptoKeyPair;
  const publicKey = new Uint8Array((await crypto.subtle.exportKey(type === "rsa" ? "spki" : "raw", pair.publicKey)) as ArrayBuffer);
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
  return {
    privateKey: pair.privateKey,
    record: `v=DKIM1; k=${type}; p=${toBase64(publicKey)}`,
    pkcs8Pem: `-----BEGIN PRIVATE KEY-----\n${(toBase64(pkcs8).match(/.{1,64}/g) ?? []).join("\n")}\n-----END PRIVATE KEY-----\n`,
  };
}
