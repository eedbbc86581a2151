/**
 * The parts of mailauth 7.1's DKIM signer the relay uses, imported by path (as
 * shared/hygiene/auth/mailauth.js does for the verifier): the signer's message parser, header
 * selection and canonicalisation, body hashing and header formatting. Typed in mailauth.d.ts
 * beside it; this file is the one place the relay names mailauth's internal modules.
 */
export { DkimSigner } from "mailauth/lib/dkim/dkim-signer.js";
export { generateCanonicalizedHeader } from "mailauth/lib/dkim/header/index.js";
export { formatSignatureHeaderLine, getSigningHeaderLines, writeToStream } from "mailauth/lib/tools.js";
