/**
 * The parts of mailauth the authentication agent uses, imported by path. The package's entry
 * point also loads BIMI, MTA-STS and an HTTP client the edge never needs; its type definitions
 * pull Node's types into the Workers programs. This file is the one place that names mailauth's
 * internal modules (typed in mailauth.d.ts beside it), so an upgrade is checked here.
 */
export { DkimVerifier } from "mailauth/lib/dkim/dkim-verifier.js";
export { writeToStream } from "mailauth/lib/tools.js";
export { spf } from "mailauth/lib/spf/index.js";
export { evaluateDmarc } from "mailauth/lib/dmarc/verify.js";
export { arc } from "mailauth/lib/arc/index.js";
// A CommonJS object whose properties Node's ESM loader cannot name: read it as the default export.
import trustlist from "mailauth/lib/arc/trustlist.js";
export const arcCommunitySealers = trustlist.trusted;
