import { type Policies, readPolicy } from "../../policy.ts";
import { CONTINUE, reject } from "../../verdict.ts";
import { describePath, type Fact, type InspectedFile } from "../attachments/file.ts";
import { inspectMessage } from "../attachments/inventory.ts";
import { EXECUTABLE_KINDS, type FileKind, KIND_EXTENSION } from "../attachments/magic.ts";
import { ARCHIVE_EXTENSIONS, DECOY_EXTENSIONS, fileNames } from "../attachments/names.ts";
import type { Agent, AgentContext } from "../types.ts";

/**
 * Extensions blocked when no `attachments` policy is set: what Exchange Online's common attachment
 * filter, Gmail and rspamd refuse, less the macro-enabled Office formats (the `blockMacros` switch
 * governs those, by name and by content). Executables, installers, scripts, shortcuts, disc images,
 * help files and archive formats the gateway cannot look into — almost never legitimate mail, and
 * between them the carriers of most mail-borne malware.
 */
export const DEFAULT_BLOCKED_EXTENSIONS: readonly string[] = [
  // Windows executables, libraries, drivers, control-panel items and screensavers
  ...["exe", "com", "scr", "pif", "cpl", "dll", "ocx", "sys", "drv", "vxd", "lib", "xll", "wll"],
  // Installers and app packages
  ...["msi", "msp", "mst", "msix", "msixbundle", "appx", "appxbundle", "application", "gadget", "apk", "dex", "deb", "app", "dmg", "pkg", "kext"],
  // Script hosts: batch, Windows Script Host, PowerShell, HTML applications, scriptlets
  ...["bat", "cmd", "js", "jse", "vb", "vbs", "vbe", "wsf", "wsh", "wsc", "ws", "hta", "sct", "ps1", "ps1xml", "ps2", "psc1", "psm1", "msh"],
  // Registry, setup and shell files
  ...["reg", "inf", "scf", "shb", "shs", "url", "lnk"],
  // Management consoles, help files, Java
  ...["msc", "chm", "hlp", "jar", "jnlp"],
  // Disc and disk images (mounted with a double-click since Windows 8, they bypass Mark-of-the-Web)
  ...["iso", "img", "vhd", "vhdx"],
  // Executable formats of other systems, by their true-type names
  ...["elf", "macho"],
  // Archive formats this gateway cannot list
  ...["ace", "arj", "cab", "lha", "lzh"],
];

/** Content types blocked when no `attachments` policy is set: the ones declared for executables and installers. */
export const DEFAULT_BLOCKED_CONTENT_TYPES: readonly string[] = [
  "application/x-msdownload",
  "application/x-msdos-program",
  "application/x-ms-dos-executable",
  "application/x-dosexec",
  "application/x-executable",
  "application/vnd.microsoft.portable-executable",
  "application/x-msi",
  "application/x-ms-installer",
  "application/x-ms-shortcut",
  "application/hta",
];

/** Office formats whose only difference from their plain sibling is that they may carry macros. */
export const MACRO_EXTENSIONS: ReadonlySet<string> = new Set(["docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "ppsm", "sldm"]);

/** The policy in force when the directory has none. */
export const DEFAULT_ATTACHMENT_POLICY: Readonly<Policies["attachments"]> = Object.freeze({
  blockedExtensions: [...DEFAULT_BLOCKED_EXTENSIONS],
  blockedContentTypes: [...DEFAULT_BLOCKED_CONTENT_TYPES],
  blockEncryptedArchives: true,
  blockMacros: true,
});

/** The policy, ready for lookups. */
export interface AttachmentRules {
  blockedExtensions: ReadonlySet<string>;
  blockedContentTypes: readonly string[];
  blockEncryptedArchives: boolean;
  blockMacros: boolean;
}

export function attachmentRules(policy: Policies["attachments"]): AttachmentRules {
  return {
    blockedExtensions: new Set(policy.blockedExtensions),
    blockedContentTypes: policy.blockedContentTypes,
    blockEncryptedArchives: policy.blockEncryptedArchives,
    blockMacros: policy.blockMacros,
  };
}

const KIND_NAMES: Partial<Record<FileKind, string>> = {
  pe: "a Windows executable",
  elf: "a Linux executable",
  macho: "a macOS executable",
  script: "a script",
  lnk: "a Windows shortcut",
  chm: "a compiled help file",
  msi: "a Windows installer",
  iso: "a disc image",
  vhd: "a disk image",
  vhdx: "a disk image",
  cab: "a cabinet archive",
};

/** Decoy extensions a text editor opens. */
const TEXT_EXTENSIONS: ReadonlySet<string> = new Set(["txt", "csv", "xml", "htm", "html", "eml"]);

/** Facts that never block, recorded for later agents (the content filter) and for tracking. */
const FLAGGED_FACTS: readonly Fact[] = ["pdf-encrypted", "pdf-javascript", "pdf-autoaction", "pdf-launch", "office-encrypted", "unreadable", "opaque"];

/**
 * The rule a file breaks, in words, or null. Names first (every name the file goes by), then the
 * declared type, then what its bytes say, then what opening it showed.
 *
 * @example
 * blockedBy(file, attachmentRules(DEFAULT_ATTACHMENT_POLICY)) // "double extension .pdf.exe"
 */
export function blockedBy(file: InspectedFile, rules: AttachmentRules): string | null {
  const names = [file.name, ...file.otherNames].filter((n) => n !== "").flatMap(fileNames);
  for (const name of names) {
    if (name.bidi) return "name hides its extension with bidirectional control characters";
    const { extension: ext, previous } = name;
    if (ext === null) continue;
    if (rules.blockedExtensions.has(ext))
      return previous !== null && DECOY_EXTENSIONS.has(previous) ? `double extension .${previous}.${ext}` : `blocked extension .${ext}`;
    if (previous !== null && rules.blockedExtensions.has(previous) && ARCHIVE_EXTENSIONS.has(ext)) return `double extension .${previous}.${ext}`;
    if (rules.blockMacros && MACRO_EXTENSIONS.has(ext)) return `macro-enabled document .${ext}`;
  }
  const type = file.declaredType;
  if (type !== null && rules.blockedContentTypes.some((t) => (t.endsWith("*") ? type.startsWith(t.slice(0, -1)) : type === t))) {
    return `blocked content type ${type}`;
  }
  if (file.kind !== null) {
    const what = KIND_NAMES[file.kind] ?? file.kind;
    const decoy = names.map((n) => n.extension).find((e) => e !== null && DECOY_EXTENSIONS.has(e)) ?? null;
    // A script saved as text opens in an editor: only a binary format is a disguise there.
    const disguised = decoy !== null && EXECUTABLE_KINDS.has(file.kind) && !(file.kind === "script" && TEXT_EXTENSIONS.has(decoy));
    if (disguised) return `content is ${what}, disguised as .${decoy}`;
    const ext = KIND_EXTENSION[file.kind];
    if (ext !== undefined && rules.blockedExtensions.has(ext)) return `content is ${what} (.${ext})`;
  }
  const macros = file.facts.get("macros");
  if (rules.blockMacros && macros !== undefined) return `document with macros (${macros})`;
  const encrypted = file.facts.get("encrypted");
  if (rules.blockEncryptedArchives && encrypted !== undefined) return `encrypted archive (${encrypted})`;
  return null;
}

/** Rules per policy object: policies are cached per snapshot, so each is turned into rules once. */
const prepared = new WeakMap<Policies["attachments"], AttachmentRules>();

async function rulesFor(ctx: AgentContext): Promise<AttachmentRules> {
  const policy = (ctx.directory === null ? null : await readPolicy(ctx.directory, "attachments")) ?? DEFAULT_ATTACHMENT_POLICY;
  let rules = prepared.get(policy);
  if (rules === undefined) {
    rules = attachmentRules(policy);
    prepared.set(policy, rules);
  }
  return rules;
}

/**
 * Exchange's attachment filtering: refuses messages carrying files by name (blocked and double
 * extensions), by declared type, by true type (magic numbers, so an executable renamed `.pdf` is
 * still an executable), inside archives (zip, gzip, tar, RAR names; nested), encrypted archives and
 * macro-enabled documents — and refuses archives that cannot be inspected within the limits in
 * shared/limits.ts (decompression bombs, too many files, nesting too deep).
 *
 * PDFs with /Encrypt, /JavaScript, /OpenAction or /Launch, password-protected Office documents,
 * and content that could not be read are flagged, not refused: they are common in legitimate mail.
 * Flags go into `notes["attachment-flags"]` for the content filter.
 *
 * Closed on failure: a policy that cannot be read defers the message.
 */
export const attachmentFilter: Agent = {
  name: "attachment-filter",
  phase: "body",
  failMode: "closed",
  async check(mail, ctx) {
    if (mail.email === null) return { ...CONTINUE, skipped: true, note: "message not parsed" };
    const rules = await rulesFor(ctx);
    const inventory = await inspectMessage(mail.email);
    for (const file of inventory.files) {
      const rule = blockedBy(file, rules);
      if (rule !== null) return reject({ reason: "blocked_attachment", detail: `${describePath(file.path)}: ${rule}` });
    }
    if (inventory.problem !== null) return reject({ reason: "blocked_attachment", detail: inventory.problem.message });
    const flags = new Set<string>();
    for (const file of inventory.files) {
      for (const fact of FLAGGED_FACTS) if (file.facts.has(fact)) flags.add(fact);
      // Allowed by policy, still worth knowing.
      if (file.facts.has("macros")) flags.add("macros");
      if (file.facts.has("encrypted")) flags.add("encrypted-archive");
    }
    const flagged = [...flags].sort().join(" ");
    if (flagged !== "") mail.notes["attachment-flags"] = flagged;
    const note = `${inventory.files.length} file(s) checked`;
    return { ...CONTINUE, note: flagged === "" ? note : `${note}; flagged: ${flagged}` };
  },
};
