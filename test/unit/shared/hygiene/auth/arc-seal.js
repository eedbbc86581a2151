/** mailauth's ARC sealer, for building ARC-sealed test messages (Ed25519 keys, which workerd's node:crypto signs with). */
export { sealMessage } from "mailauth/lib/arc/index.js";
