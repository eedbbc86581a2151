/** Returns the ARC-Seal, ARC-Message-Signature and ARC-Authentication-Results fields to put on top of `input`. */
export function sealMessage(
  input: Uint8Array,
  seal: { signingDomain: string; selector: string; privateKey: string; algorithm: "ed25519-sha256"; authResults: string; cv: "none" | "pass" | "fail" },
): Promise<Uint8Array>;
