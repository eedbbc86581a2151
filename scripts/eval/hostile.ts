import path from "node:path";
import type { DirectoryReader } from "../../shared/directory/reader.ts";
import { runPipeline } from "../../shared/hygiene/pipeline.ts";
import type { RejectCode } from "../../shared/verdict.ts";
import { corpusFiles, readBytes } from "./corpus.ts";

/** What the documentation promises for one hostile file: the action, and for refusals the reason. */
interface Expectation {
  action: "accept" | "reject" | "quarantine";
  reason?: RejectCode;
  /**
   * For files a corpus holds to show what one agent lets through: the outcome counts as documented
   * unless the message is refused for one of these reasons (another agent's verdict — e.g. the
   * content filter scoring a bare test fixture — is reported, not held against this agent).
   */
  notRefusedFor?: RejectCode[];
}

const ATTACHMENT_REASONS: RejectCode[] = ["blocked_attachment", "malware"];

/**
 * The documented outcome of every file in the hostile corpora (docs/agents/malware.md,
 * attachment-filter.md, content-filter.md), for the pipeline with its built-in defaults.
 */
export const HOSTILE_EXPECTATIONS: Record<string, Record<string, Expectation>> = {
  "hostile/eicar": Object.fromEntries(
    ["eicar-com-base64", "eicar-disguised-pdf", "eicar-in-message-rfc822", "eicar-in-zip-in-zip", "eicar-in-zip", "eicar-inline-body", "eicar-txt-7bit"].map(
      (f) => [`${f}.eml`, { action: "reject", reason: "malware" }],
    ),
  ),
  "hostile/gtube": {
    "rspamd-gtube.eml": { action: "reject", reason: "spam" },
    "sa-gtube.eml": { action: "reject", reason: "spam" },
    "sa-gtube_b64_oct.eml": { action: "reject", reason: "spam" },
    "sa-gtube_pdf.eml": { action: "reject", reason: "spam" },
    "sa-gtube_png.eml": { action: "reject", reason: "spam" },
    "sa-gtubedcc.eml": { action: "reject", reason: "spam" },
    "sa-gtubedcc_crlf.eml": { action: "reject", reason: "spam" },
    // The near miss must not be taken for GTUBE.
    "sa-not_gtube.eml": { action: "accept" },
  },
  "hostile/risky-attachments": {
    "rspamd-bad_ext.dotted_file_name.eml": { action: "reject", reason: "blocked_attachment" },
    "rspamd-exe_attm.eml": { action: "reject", reason: "blocked_attachment" },
    "rspamd-f.zip.001.eml": { action: "accept", notRefusedFor: ATTACHMENT_REASONS },
    "rspamd-f.zip.gz.eml": { action: "accept", notRefusedFor: ATTACHMENT_REASONS },
    "rspamd-fname.eml": { action: "accept", notRefusedFor: ATTACHMENT_REASONS },
    "rspamd-mixed-html-zip.eml": { action: "accept", notRefusedFor: ATTACHMENT_REASONS },
    "rspamd-pdf_encrypted.eml": { action: "accept", notRefusedFor: ATTACHMENT_REASONS },
    "rspamd-pdf_js.eml": { action: "accept", notRefusedFor: ATTACHMENT_REASONS },
    "rspamd-rar-date-bad-ext.eml": { action: "reject", reason: "blocked_attachment" },
    "rspamd-rar4.eml": { action: "reject", reason: "blocked_attachment" },
    "rspamd-zip-doublebad.eml": { action: "reject", reason: "blocked_attachment" },
    "rspamd-zip.eml": { action: "reject", reason: "blocked_attachment" },
  },
  "hostile/clamav": {
    "clam.exe.mbox.base64.0.eml": { action: "reject", reason: "blocked_attachment" },
    "clam.exe.mbox.uu.0.eml": { action: "reject", reason: "blocked_attachment" },
    "clam.mail.eml": { action: "reject", reason: "blocked_attachment" },
  },
};

export interface HostileReport {
  files: number;
  asDocumented: number;
  misses: string[];
  /** Outcomes that are as documented for this corpus's agent but came from another agent. */
  notes: string[];
}

/** Runs one hostile corpus folder through the whole pipeline and compares with the documentation. */
export async function hostileCorpus(dir: string, directory: DirectoryReader): Promise<HostileReport> {
  const expected = HOSTILE_EXPECTATIONS[dir]!;
  const files = await corpusFiles(dir, [".eml"]);
  const report: HostileReport = { files: files.length, asDocumented: 0, misses: [], notes: [] };
  for (const file of files) {
    const name = path.basename(file);
    const want = expected[name];
    if (want === undefined) {
      report.misses.push(`${name}: no documented outcome`);
      continue;
    }
    const result = await runPipeline(
      { envelope: { from: "sender@example.net", to: ["alice@example.com"] }, raw: await readBytes(file) },
      { directory, dns: null },
    );
    const got = `${result.action}${result.reason ? ` (${result.reason.reason})` : ""}`;
    const ok =
      want.notRefusedFor !== undefined
        ? !want.notRefusedFor.includes(result.reason?.reason as RejectCode)
        : result.action === want.action && (want.reason === undefined || result.reason?.reason === want.reason);
    if (ok) report.asDocumented++;
    else report.misses.push(`${name}: ${got}, documented ${want.action}${want.reason ? ` (${want.reason})` : ""}`);
    if (ok && result.action !== want.action) report.notes.push(`${name}: ${got} by another agent`);
  }
  return report;
}
