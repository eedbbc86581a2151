import { strToU8, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { attachmentFilter, DEFAULT_ATTACHMENT_POLICY, DEFAULT_BLOCKED_EXTENSIONS } from "../../../../shared/hygiene/agents/attachment-filter.ts";
import { limits } from "../../../../shared/hygiene/agents/limits.ts";
import { inspectMessage } from "../../../../shared/hygiene/attachments/inventory.ts";
import { MAX_ARCHIVE_DEPTH, MAX_ARCHIVE_ENTRIES } from "../../../../shared/limits.ts";
import { listCorpus, readCorpus } from "../../../helpers/corpus.ts";
import { inboundMail } from "../../../helpers/inbound.ts";
import { bytes, directoryWith, emailOf, markEncrypted, MSI_CLSID, messageWith, noise, ole2Of, parsed, scan, tarOf } from "./attachments/fixtures.ts";

const FILTER = [limits, attachmentFilter];

/** What the attachment filter does with a message: "accept", or the reject detail. */
async function verdictOf(raw: Uint8Array, policy?: Partial<typeof DEFAULT_ATTACHMENT_POLICY>) {
  const directory = policy === undefined ? null : await directoryWith({ attachments: { ...DEFAULT_ATTACHMENT_POLICY, ...policy } });
  const result = await scan(raw, directory, FILTER);
  const outcome = result.agents.find((a) => a.agent === "attachment-filter");
  return {
    action: result.action,
    detail: result.reason?.reason === "blocked_attachment" ? result.reason.detail : null,
    reason: result.reason?.reason ?? null,
    note: outcome?.reason ?? "",
    smtp: result.smtp,
  };
}

/**
 * What a mail administrator expects for every file of the hostile corpora (docs/agents/attachment-filter.md
 * has the same table). `null` means delivered; flags are what the filter notes for later agents.
 */
const EXPECTED: Record<string, { detail: string | null; flags?: string }> = {
  // rspamd's attachment tests
  "hostile/risky-attachments/rspamd-bad_ext.dotted_file_name.eml": { detail: "bad_ext.dotted_file_name.exe: blocked extension .exe" },
  "hostile/risky-attachments/rspamd-exe_attm.eml": { detail: "hello_world.exe: blocked extension .exe" },
  "hostile/risky-attachments/rspamd-f.zip.001.eml": { detail: null },
  "hostile/risky-attachments/rspamd-f.zip.gz.eml": { detail: null },
  "hostile/risky-attachments/rspamd-fname.eml": { detail: null },
  "hostile/risky-attachments/rspamd-mixed-html-zip.eml": { detail: null },
  "hostile/risky-attachments/rspamd-pdf_encrypted.eml": { detail: null, flags: "pdf-encrypted" },
  "hostile/risky-attachments/rspamd-pdf_js.eml": { detail: null, flags: "pdf-autoaction pdf-javascript" },
  "hostile/risky-attachments/rspamd-rar-date-bad-ext.eml": { detail: "06.12.2017.gz > 06.12.2017.scr: blocked extension .scr" },
  "hostile/risky-attachments/rspamd-rar4.eml": { detail: "f.rar > fake.exe: blocked extension .exe" },
  "hostile/risky-attachments/rspamd-zip-doublebad.eml": { detail: "f.zip > fake.pdf.exe: double extension .pdf.exe" },
  "hostile/risky-attachments/rspamd-zip.eml": { detail: "f.zip > fake.exe: blocked extension .exe" },
  // ClamAV's test messages: clam.exe is a Windows executable, whatever the wrapping
  "hostile/clamav/clam.exe.mbox.base64.0.eml": { detail: "clam.exe: blocked extension .exe" },
  "hostile/clamav/clam.exe.mbox.uu.0.eml": { detail: "clam.exe: blocked extension .exe" },
  "hostile/clamav/clam.mail.eml": { detail: "clam.exe: blocked extension .exe" },
  // EICAR: the attachment filter refuses what is refused by name; the malware agent catches the rest
  "hostile/eicar/eicar-com-base64.eml": { detail: "eicar.com: blocked extension .com" },
  "hostile/eicar/eicar-disguised-pdf.eml": { detail: "invoice.pdf.exe: double extension .pdf.exe" },
  "hostile/eicar/eicar-in-message-rfc822.eml": { detail: null },
  "hostile/eicar/eicar-in-zip-in-zip.eml": { detail: "invoice.zip > inner.zip > eicar.com: blocked extension .com" },
  "hostile/eicar/eicar-in-zip.eml": { detail: "eicar.zip > eicar.com: blocked extension .com" },
  "hostile/eicar/eicar-inline-body.eml": { detail: null },
  "hostile/eicar/eicar-txt-7bit.eml": { detail: null },
};

describe("attachment-filter", () => {
  describe("on the hostile corpora", () => {
    it("has a decision for every file of risky-attachments, clamav and eicar", async () => {
      const files = [
        ...(await listCorpus("hostile/risky-attachments", [".eml"])),
        ...(await listCorpus("hostile/clamav", [".eml"])),
        ...(await listCorpus("hostile/eicar", [".eml"])),
      ];
      expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
    });

    it.each(Object.entries(EXPECTED))("%s", async (file, expected) => {
      const verdict = await verdictOf(await readCorpus(file));
      expect(verdict.detail).toBe(expected.detail);
      if (expected.detail !== null) expect(verdict.smtp).toBe("550 5.7.1 Message rejected by policy");
      else expect(verdict.action).toBe("accept");
      if (expected.flags !== undefined) expect(verdict.note).toMatch(new RegExp(`flagged: ${expected.flags}$`));
    });

    it("lets ClamAV's clam.exe through when the policy allows executables by name and by declared type", async () => {
      const allowExe = { blockedExtensions: DEFAULT_BLOCKED_EXTENSIONS.filter((e) => e !== "exe"), blockedContentTypes: [] };
      for (const file of await listCorpus("hostile/clamav", [".eml"])) expect((await verdictOf(await readCorpus(file), allowExe)).action).toBe("accept");
    });
  });

  describe("lets ordinary attachments through", () => {
    const docx = zipSync({
      "[Content_Types].xml": strToU8('<?xml version="1.0"?><Types/>'),
      "_rels/.rels": strToU8("<Relationships/>"),
      "word/document.xml": strToU8("<w:document><w:body><w:p>Quarterly report</w:p></w:body></w:document>"),
      "word/media/image1.png": Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    });
    it.each([
      ["a PDF", { name: "report.pdf", type: "application/pdf", content: "%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n" }],
      [
        "a zip of documents",
        { name: "documents.zip", type: "application/zip", content: zipSync({ "a.pdf": strToU8("%PDF-1.4\n"), "notes.txt": strToU8("notes") }) },
      ],
      ["a Word document", { name: "report.docx", type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", content: docx }],
      ["a Word document inside a zip", { name: "reports.zip", type: "application/zip", content: zipSync({ "q3/report.docx": docx }) }],
      ["a legacy Word document without macros", { name: "letter.doc", type: "application/msword", content: ole2Of(["WordDocument", "1Table"]) }],
      ["an image", { name: "photo.jpg", type: "image/jpeg", content: Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 0x10) }],
      ["a calendar invitation", { name: "invite.ics", type: "text/calendar", content: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n" }],
      ["a shell script sent as text", { name: "deploy.txt", type: "text/plain", content: "#!/bin/sh\necho deploy\n" }],
      ["a tarball of sources", { name: "src.tar", type: "application/x-tar", content: tarOf({ "src/main.c": bytes("int main(){}") }) }],
    ])("%s", async (_, part) => {
      const verdict = await verdictOf(messageWith([part]));
      expect(verdict.action).toBe("accept");
      expect(verdict.note).toMatch(/^\d+ file\(s\) checked$/);
    });
  });

  describe("refuses", () => {
    it.each([
      ["an executable by name", { name: "setup.exe", type: "application/octet-stream", content: "x" }, "setup.exe: blocked extension .exe"],
      ["an executable named with trailing dots and spaces", { name: "setup.exe. .", type: "application/octet-stream", content: "x" }, "blocked extension .exe"],
      ["a script", { name: "invoice.js", type: "text/javascript", content: "WScript.Echo(1)" }, "invoice.js: blocked extension .js"],
      ["a disc image", { name: "scan.iso", type: "application/octet-stream", content: "x" }, "scan.iso: blocked extension .iso"],
      ["a double extension padded with spaces", { name: "invoice.pdf          .exe", type: "application/pdf", content: "x" }, "double extension .pdf.exe"],
      ["a blocked extension hidden before an archive extension", { name: "photo.scr.xz", type: "application/x-xz", content: "x" }, "double extension .scr.xz"],
      ["a name reversed with a bidi override", { name: "invoice\u202efdp.scr", type: "application/pdf", content: "x" }, "bidirectional control characters"],
      [
        "a blocked declared type",
        { name: "update.dat", type: "application/x-msdownload", content: "x" },
        "update.dat: blocked content type application/x-msdownload",
      ],
      [
        "an executable disguised as a PDF",
        { name: "invoice.pdf", type: "application/pdf", content: "MZ\x90\x00\x03\x00\x00\x00This program cannot be run in DOS mode" },
        "invoice.pdf: content is a Windows executable, disguised as .pdf",
      ],
      [
        "a Linux executable with no name",
        { type: "application/octet-stream", content: "\x7fELF\x02\x01\x01\x00", disposition: "attachment" as const },
        "(application/octet-stream): content is a Linux executable (.elf)",
      ],
      [
        "a Windows installer by its content",
        { name: "setup.dat", type: "application/octet-stream", content: ole2Of(["x"], { rootClsid: MSI_CLSID }) },
        "setup.dat: content is a Windows installer (.msi)",
      ],
      [
        "a macro-enabled document by name",
        { name: "report.docm", type: "application/vnd.ms-word.document.macroEnabled.12", content: "x" },
        "report.docm: macro-enabled document .docm",
      ],
      [
        "a document with a VBA project, named .docx",
        {
          name: "report.docx",
          type: "application/octet-stream",
          content: zipSync({ "[Content_Types].xml": strToU8("<Types/>"), "word/vbaProject.bin": ole2Of(["VBA", "PROJECT"]) }),
        },
        "report.docx: document with macros (word/vbaProject.bin)",
      ],
      [
        "a legacy Word document with macros",
        { name: "letter.doc", type: "application/msword", content: ole2Of(["WordDocument", "Macros", "VBA"]) },
        "letter.doc: document with macros (macros)",
      ],
      [
        "an encrypted zip",
        { name: "secret.zip", type: "application/zip", content: markEncrypted(zipSync({ "invoice.pdf": strToU8("%PDF") })) },
        "secret.zip: encrypted archive (invoice.pdf)",
      ],
      [
        "an executable in a tarball",
        { name: "tools.tar", type: "application/x-tar", content: tarOf({ "bin/tool.exe": bytes("MZ") }) },
        "tools.tar > bin/tool.exe: blocked extension .exe",
      ],
    ])("%s", async (_, part, detail) => {
      const verdict = await verdictOf(messageWith([part]));
      expect(verdict.action).toBe("reject");
      expect(verdict.detail).toContain(detail);
    });
  });

  describe("follows the attachments policy", () => {
    it("blocks what the policy's extension list names, and only that", async () => {
      const policy = { blockedExtensions: ["pdf"] };
      expect((await verdictOf(messageWith([{ name: "report.pdf", type: "application/pdf", content: "%PDF-1.4" }]), policy)).detail).toBe(
        "report.pdf: blocked extension .pdf",
      );
      expect((await verdictOf(messageWith([{ name: "setup.exe", type: "application/octet-stream", content: "x" }]), policy)).action).toBe("accept");
    });

    it("blocks content types by the policy's list, with a trailing * as a prefix", async () => {
      const policy = { blockedContentTypes: ["application/x-*"] };
      const verdict = await verdictOf(messageWith([{ name: "a.dat", type: "application/x-anything", content: "x" }]), policy);
      expect(verdict.detail).toBe("a.dat: blocked content type application/x-anything");
    });

    it("still refuses an executable disguised as a document when executables are allowed", async () => {
      const policy = { blockedExtensions: [] };
      const verdict = await verdictOf(messageWith([{ name: "invoice.pdf", type: "application/pdf", content: "MZ\x90\x00" }]), policy);
      expect(verdict.detail).toBe("invoice.pdf: content is a Windows executable, disguised as .pdf");
    });

    it("lets macros through with blockMacros false, and flags them", async () => {
      const policy = { blockMacros: false };
      const docm = messageWith([{ name: "report.docm", type: "application/octet-stream", content: zipSync({ "word/vbaProject.bin": strToU8("x") }) }]);
      const verdict = await verdictOf(docm, policy);
      expect(verdict.action).toBe("accept");
      expect(verdict.note).toMatch(/flagged: macros$/);
      expect((await verdictOf(docm)).detail).toBe("report.docm: macro-enabled document .docm");
    });

    it("lets encrypted archives through with blockEncryptedArchives false, and flags them", async () => {
      const zip = messageWith([{ name: "secret.zip", type: "application/zip", content: markEncrypted(zipSync({ "a.pdf": strToU8("%PDF") })) }]);
      const verdict = await verdictOf(zip, { blockEncryptedArchives: false });
      expect(verdict.action).toBe("accept");
      expect(verdict.note).toContain("encrypted-archive");
    });

    it("leaves the flags in the notes for the content filter", async () => {
      const raw = await readCorpus("hostile/risky-attachments/rspamd-pdf_js.eml");
      const email = await parsed(raw);
      const mail = inboundMail(email, { raw });
      expect(await attachmentFilter.check(mail, { directory: null })).toMatchObject({ action: "continue" });
      expect(mail.notes["attachment-flags"]).toBe("pdf-autoaction pdf-javascript");
    });

    it("defers the message when the policy cannot be read", async () => {
      const directory = await directoryWith({ attachments: { blockedExtensions: "exe" } });
      const result = await scan(messageWith([{ name: "a.txt", type: "text/plain", content: "a" }]), directory, FILTER);
      expect(result.action).toBe("tempfail");
      expect(result.reason).toMatchObject({ reason: "agent_failed", agent: "attachment-filter" });
    });
  });

  describe("refuses archives it cannot inspect within the limits, in bounded work", () => {
    async function bombVerdict(content: Uint8Array) {
      const raw = messageWith([{ name: "bomb.zip", type: "application/zip", content }]);
      const verdict = await verdictOf(raw);
      const work = (await inspectMessage(await parsed(raw))).work;
      return { ...verdict, work };
    }

    it("a member with a bomb's compression ratio", async () => {
      const verdict = await bombVerdict(zipSync({ "zeros.bin": new Uint8Array(16 * 1024 * 1024) }));
      expect(verdict.detail).toMatch(/^bomb\.zip > zeros\.bin: compression ratio \d+:1 over 100:1/);
      expect(verdict.work.inflated).toBe(0);
    });

    it("too many files", async () => {
      const many = Object.fromEntries(Array.from({ length: MAX_ARCHIVE_ENTRIES + 1 }, (_, i) => [`f${i}.txt`, new Uint8Array(0)]));
      const verdict = await bombVerdict(zipSync(many));
      expect(verdict.detail).toBe(`bomb.zip: more than ${MAX_ARCHIVE_ENTRIES} files in archives`);
      expect(verdict.work.inflated).toBe(0);
    });

    it("archives nested too deep", async () => {
      let zip = zipSync({ "a.txt": strToU8("a") });
      for (let i = 0; i < MAX_ARCHIVE_DEPTH + 1; i++) zip = zipSync({ [`level${i}.zip`]: zip });
      const verdict = await bombVerdict(zip);
      expect(verdict.detail).toMatch(new RegExp(`nested deeper than ${MAX_ARCHIVE_DEPTH} containers$`));
      expect(verdict.work.inflated).toBeLessThan(64 * 1024);
    });
  });

  it("checks a 20 MB attachment with the same work as a 20 KB one", async () => {
    const costs = [];
    for (const size of [20 * 1024, 20 * 1024 * 1024]) {
      const email = emailOf([
        { filename: "report.pdf", mimeType: "application/pdf", content: new Uint8Array([...bytes("%PDF-1.7\n"), ...noise(size)]) },
        { filename: "data.zip", mimeType: "application/zip", content: zipSync({ "data.csv": [noise(size), { level: 1 }] }) },
      ]);
      const mail = inboundMail(email);
      expect(await attachmentFilter.check(mail, { directory: null })).toMatchObject({ action: "continue" });
      const { work } = await inspectMessage(email);
      costs.push(work.scanned + work.inflated);
    }
    expect(Math.abs(costs[1]! - costs[0]!)).toBeLessThan(2048);
  });
});
