/**
 * The headers Portcullis adds to delivered mail, so mail clients and rules downstream can act on
 * the verdict (as Exchange's X-MS-Exchange-Organization-SCL). The stored message stays exactly as
 * received; tagged copies are made when mail is handed on or fetched tagged.
 */

export type Status = "clean" | "spam" | "quarantined" | "trusted";

export interface Tags {
  "X-Portcullis-SCL": string;
  "X-Portcullis-Status": Status;
}

/** The tags for a verdict. SCL −1 (allow list, safe sender) is "trusted". */
export function tagsFor(action: "accept" | "quarantine", scl: number | null, taggedAsSpam: boolean): Tags {
  const status: Status = action === "quarantine" ? "quarantined" : scl === -1 ? "trusted" : taggedAsSpam ? "spam" : "clean";
  return { "X-Portcullis-SCL": String(scl ?? 0), "X-Portcullis-Status": status };
}

/** The message with the tag headers prepended (header values are ours: no CR/LF can sneak in). */
export function withTags(raw: Uint8Array, tags: Partial<Tags>): Uint8Array {
  const lines = Object.entries(tags)
    .filter(([name, value]) => /^X-Portcullis-[A-Za-z-]+$/.test(name) && typeof value === "string" && /^[\x20-\x7e]*$/.test(value))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  const head = new TextEncoder().encode(lines);
  const out = new Uint8Array(head.byteLength + raw.byteLength);
  out.set(head, 0);
  out.set(raw, head.byteLength);
  return out;
}
