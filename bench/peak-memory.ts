/**
 * Child process of the hygiene benchmark: runs one message of the given size through the whole
 * pipeline and prints the process's peak resident memory (kernel high-water mark, in KiB). The
 * parent runs it once with a tiny message and once with a 25 MiB one; the difference is what the
 * big message cost, whatever the garbage collector did in between.
 */
import { readFile } from "node:fs/promises";
import PostalMime from "postal-mime";
import { memoryDirectory } from "../shared/directory/memory.ts";
import { runPipeline } from "../shared/hygiene/pipeline.ts";

const bytes = Number(process.argv[2]);
const head =
  'From: a@example.net\r\nTo: alice@example.com\r\nSubject: big\r\nMessage-ID: <big@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--b\r\nContent-Type: application/octet-stream; name="data.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n';
const tail = "\r\n--b--\r\n";
const line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
// Built straight into one buffer, as the edge holds a message after reading it: no 25 MB string.
const enc = new TextEncoder();
const [h, l, t] = [enc.encode(head), enc.encode(line), enc.encode(tail)];
const lines = Math.max(0, Math.floor((bytes - h.length - t.length) / l.length));
const raw = new Uint8Array(h.length + lines * l.length + t.length);
raw.set(h, 0);
for (let i = 0; i < lines; i++) raw.set(l, h.length + i * l.length);
raw.set(t, h.length + lines * l.length);
const directory = await memoryDirectory({ domains: ["example.com"], recipients: ["alice@example.com"] });
// "parse": a bare PostalMime.parse of the same bytes, for comparison in the same run.
const action =
  process.argv[3] === "parse"
    ? (await PostalMime.parse(raw)) && "parsed"
    : (await runPipeline({ envelope: { from: "a@example.net", to: ["alice@example.com"] }, raw }, { directory, dns: null })).action;
// VmHWM is this address space's own high-water mark. getrusage's maxRSS is not: Linux carries it
// over fork and exec, so a child of a big parent would report the parent's peak.
const status = await readFile("/proc/self/status", "utf8").catch(() => "");
const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
console.log(JSON.stringify({ bytes: raw.byteLength, action, maxRssKiB: hwm === undefined ? process.resourceUsage().maxRSS : Number(hwm) }));
