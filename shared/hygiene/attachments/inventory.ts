import type { Email } from "postal-mime";
import { parseMessage } from "../parse.ts";
import { ArchiveWalker } from "./archive.ts";
import { describePath, type InspectedFile } from "./file.ts";
import { Budget, checkLimits, DEFAULT_INSPECTION_LIMITS, type InspectionLimits, InspectionLimitError, type Work } from "./budget.ts";
import { contentBytes } from "./bytes.ts";
import { EICAR_MAX_BYTES, EICAR_START, isEicarTrailing } from "./eicar.ts";
import { bytesSource } from "./source.ts";
import { uuBlocksIn } from "./uuencode.ts";

/**
 * A place in a text or HTML body where content may start, as a file would: the start of the body,
 * and — in the text body, into which the parser merges every inline text part and inline
 * message — each line that starts like the EICAR string.
 */
export interface BodyHead {
  /** Which body: `(text)`, `(html)`, or an attached message's, as a path. */
  where: string;
  /** Its first bytes (up to EICAR_MAX_BYTES) when it starts like the test string; none otherwise. */
  head: Uint8Array;
  /** Bytes up to the next non-whitespace (or the body's end): the size of the "file" starting there. */
  size: number;
}

/** Everything the attachment checks look at in one message, found once and shared by the agents. */
export interface Inventory {
  /** Every file, outermost first: parts, parts of attached messages, archive members, uudecoded blocks. */
  files: InspectedFile[];
  bodies: BodyHead[];
  /** The limit the inspection stopped at, or null when it saw everything. Files after it are not listed. */
  problem: InspectionLimitError | null;
  /** What the inspection cost; agents add what they read later (hashing). */
  work: Work;
  budget: Budget;
}

const encoder = new TextEncoder();
/**
 * Where a parsed message keeps its inventory: a property (under a symbol of this module) rather
 * than an entry in a WeakMap keyed by the message, which would be an ephemeron for every garbage
 * collection to trace; the inventory lives exactly as long as its message anyway.
 */
const INVENTORY = Symbol("inventory");
type WithInventory = Email & { [INVENTORY]?: Promise<Inventory> };

/**
 * The inventory of a parsed message, built on first use and cached with the message, so the
 * attachment filter and the malware agent walk the attachments (and decompress) once.
 *
 * @example
 * const inventory = await inspectMessage(mail.email);
 * inventory.files.map((f) => f.path.join(" > ")) // ["invoice.zip", "invoice.zip > inner.zip", …]
 */
export function inspectMessage(email: Email): Promise<Inventory> {
  const holder: WithInventory = email;
  let inventory = holder[INVENTORY];
  if (inventory === undefined) {
    inventory = buildInventory(email, DEFAULT_INSPECTION_LIMITS);
    holder[INVENTORY] = inventory;
  }
  return inventory;
}

/** Builds an inventory under explicit limits, uncached (tests use small limits). */
export async function buildInventory(email: Email, limits: InspectionLimits): Promise<Inventory> {
  // The defaults are checked once, below; limits a caller passes are checked each time.
  const budget = new Budget(limits === DEFAULT_INSPECTION_LIMITS ? limits : checkLimits({ ...limits }));
  const walker = new ArchiveWalker(budget);
  const bodies: BodyHead[] = [];
  let problem: InspectionLimitError | null = null;
  try {
    await addMessage(email, [], 0, walker, bodies);
  } catch (error) {
    if (!(error instanceof InspectionLimitError)) throw error;
    problem = error;
  }
  return { files: walker.files, bodies, problem, work: budget.work, budget };
}

checkLimits({ ...DEFAULT_INSPECTION_LIMITS });

/** message/rfc822 and its UTF-8 sibling message/global (RFC 6532) are messages to open. */
const MESSAGE_TYPES = new Set(["message/rfc822", "message/global"]);

/** Lines starting like the EICAR string looked at per body: a body full of them needs only one to be refused. */
const MAX_BODY_HEADS = 16;

/**
 * The "file" starting at `at`: its first word (the test string has no whitespace in it) and the
 * whitespace after, up to the next text — at most EICAR_MAX_BYTES + 1 characters looked at.
 */
function bodyHead(body: string, at: number, where: string): BodyHead {
  let end = at;
  while (end < body.length && end - at < EICAR_MAX_BYTES && !isEicarTrailing(body.charCodeAt(end))) end++;
  while (end < body.length && end - at <= EICAR_MAX_BYTES && isEicarTrailing(body.charCodeAt(end))) end++;
  // Only a start like the test string's can be it; any other body keeps no bytes (nearly all do).
  const head = body.startsWith(EICAR_START, at) ? encoder.encode(body.slice(at, Math.min(end, at + EICAR_MAX_BYTES))) : NO_BYTES;
  return { where, head, size: end - at };
}

const NO_BYTES = new Uint8Array(0);

async function addMessage(email: Email, path: readonly string[], depth: number, walker: ArchiveWalker, bodies: BodyHead[]): Promise<void> {
  const budget = walker.budget;
  if (email.html !== undefined && email.html !== "") bodies.push(bodyHead(email.html, 0, describePath([...path, "(html)"])));
  const text = email.text ?? "";
  if (text !== "") {
    bodies.push(bodyHead(text, 0, describePath([...path, "(text)"])));
    // Inline parts lose their boundaries when merged: one that starts with the test string shows
    // as a line starting with it. indexOf runs at memory speed over text already decoded.
    budget.work.scanned += text.length;
    for (let at = text.indexOf(EICAR_START, 1); at > 0 && bodies.length < MAX_BODY_HEADS; at = text.indexOf(EICAR_START, at + 1)) {
      if (text[at - 1] === "\n") bodies.push(bodyHead(text, at, describePath([...path, "(text)"])));
    }
  }
  // Attachments uuencoded into the text body, the way old clients sent them; the text is already
  // decoded, and finding `begin` lines is one pass of a regular expression over it.
  for (const block of uuBlocksIn(text, budget.limits.maxEntries)) {
    walker.visit({ path: [...path, "(uuencoded in text)"], name: "", declaredType: "text/plain", depth, source: bytesSource(encoder.encode(block)) });
  }
  for (const attachment of email.attachments) {
    const type = attachment.mimeType.toLowerCase();
    const name = attachment.filename ?? "";
    const filePath = [...path, name === "" ? `(${type})` : name];
    const bytes = contentBytes(attachment.content, attachment.encoding);
    const file = walker.visit({ path: filePath, name, declaredType: type, depth, source: bytesSource(bytes) });
    // The parser stopped opening inline messages at its nesting limit; what is below was not parsed.
    if (attachment.rfc822DepthExceeded) throw new InspectionLimitError(describePath(filePath), "messages nested deeper than the parser follows");
    if (!MESSAGE_TYPES.has(type)) continue;
    if (depth + 1 > budget.limits.maxDepth) throw new InspectionLimitError(describePath(filePath), `nested deeper than ${budget.limits.maxDepth} containers`);
    // An attached message (a forward "as attachment") is parsed like the message itself: its parts
    // are attachments too, and what a recipient opens from it must pass the same checks.
    const parsed = await parseMessage(bytes);
    if (!parsed.ok) {
      file.facts.set("unreadable", parsed.reason.reason);
      continue;
    }
    budget.work.scanned += bytes.length;
    await addMessage(parsed.email, filePath, depth + 1, walker, bodies);
  }
}
