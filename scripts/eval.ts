/**
 * `npm run eval`: how well the hygiene pipeline does its job, measured. Progress on stderr; the
 * last line of stdout is one flat JSON object with dotted keys.
 *
 * - the content filter's spam recall and ham false-positive rate, 10-fold cross-validated on
 *   spam-train (never testing a message on a model trained with it)
 * - the DKIM/ARC/SPF vectors of corpora/auth give the expected results (in workerd, stub resolver)
 * - every message of the MIME and fuzzing corpora gets a verdict with no exception
 * - every file of the hostile corpora (EICAR, GTUBE, risky attachments, ClamAV) is acted on as
 *   the agents' documentation says
 * - hostile structure of every kind gets a verdict within bounded time and memory
 */
import path from "node:path";
import { memoryDirectory } from "../shared/directory/memory.ts";
import { runPipeline } from "../shared/hygiene/pipeline.ts";
import { corpusFiles, readBytes } from "./eval/corpus.ts";
import { crossValidateContent } from "./eval-content.ts";
import { authVectors } from "./eval/auth-vectors.ts";
import { HOSTILE_EXPECTATIONS, hostileCorpus } from "./eval/hostile.ts";
import { robustness } from "./eval/robustness.ts";

const log = (line: string): void => {
  process.stderr.write(`eval: ${line}\n`);
};
const figures: Record<string, number> = {};
const directory = await memoryDirectory({ domains: ["example.com"], recipients: ["alice@example.com"] });

for (const [dir, extensions] of [
  ["mime", [".eml", ".mbox"]],
  ["hostile/go-fuzz", [".eml"]],
] as const) {
  const files = await corpusFiles(dir, [...extensions]);
  let verdicts = 0;
  const exceptions: string[] = [];
  for (const file of files) {
    try {
      const result = await runPipeline(
        { envelope: { from: "sender@example.net", to: ["alice@example.com"] }, raw: await readBytes(file) },
        { directory, dns: null },
      );
      if (result.smtp.length > 0) verdicts++;
    } catch (err) {
      exceptions.push(`${path.basename(file)}: ${String(err)}`);
    }
  }
  const key = dir.replace(/[/-]/g, "_");
  figures[`eval.corpus.${key}.files`] = files.length;
  figures[`eval.corpus.${key}.verdicts`] = verdicts;
  figures[`eval.corpus.${key}.exceptions`] = exceptions.length;
  log(`${dir}: ${verdicts}/${files.length} verdicts, ${exceptions.length} exceptions${exceptions.length > 0 ? `: ${exceptions.slice(0, 3).join("; ")}` : ""}`);
}

for (const dir of Object.keys(HOSTILE_EXPECTATIONS)) {
  const report = await hostileCorpus(dir, directory);
  const key = dir.replace(/[/-]/g, "_");
  figures[`eval.${key}.files`] = report.files;
  figures[`eval.${key}.asDocumented`] = report.asDocumented;
  figures[`eval.${key}.percent`] = report.files === 0 ? 0 : (100 * report.asDocumented) / report.files;
  log(
    `${dir}: ${report.asDocumented}/${report.files} acted on as documented${report.misses.length > 0 ? `; missed: ${report.misses.join("; ")}` : ""}${report.notes.length > 0 ? `; note: ${report.notes.join("; ")}` : ""}`,
  );
}

log("10-fold cross-validation of the content filter on spam-train");
const cv = await crossValidateContent();
figures["eval.content.folds"] = cv.folds.length;
figures["eval.content.recall"] = cv.recall;
figures["eval.content.fpr"] = cv.fpr;
figures["eval.content.recallAtReject"] = cv.recallAtReject;
figures["eval.content.fprAtReject"] = cv.fprAtReject;
log(
  `content filter: spam recall ${(100 * cv.recall).toFixed(1)} %, ham false positives ${(100 * cv.fpr).toFixed(2)} % (SCL ≥ quarantine); at reject ${(100 * cv.recallAtReject).toFixed(1)} % / ${(100 * cv.fprAtReject).toFixed(2)} %`,
);

log("DKIM, ARC and SPF vectors of corpora/auth, in workerd with a stub resolver");
const vectors = authVectors();
figures["eval.auth.tests"] = vectors.tests;
figures["eval.auth.passed"] = vectors.passed;
log(`authentication vectors: ${vectors.passed}/${vectors.tests} as expected${vectors.failed.length > 0 ? `; failed: ${vectors.failed.join("; ")}` : ""}`);

const robust = await robustness(directory);
figures["eval.robustness.cases"] = robust.cases;
figures["eval.robustness.verdicts"] = robust.verdicts;
figures["eval.robustness.exceptions"] = robust.exceptions.length;
figures["eval.robustness.overBudget"] = robust.overBudget.length;
figures["eval.robustness.slowestMs"] = robust.slowest.ms;
figures["eval.robustness.peakHeapMB"] = robust.heaviest.mb;
log(
  `hostile structure: ${robust.verdicts}/${robust.cases} verdicts; slowest ${robust.slowest.name} ${robust.slowest.ms.toFixed(0)} ms; heaviest ${robust.heaviest.name} ${robust.heaviest.mb.toFixed(1)} MB`,
);
for (const e of [...robust.exceptions, ...robust.overBudget]) log(`  ${e}`);

const rounded = Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Number.isInteger(v) ? v : Number(v.toFixed(4))]));
console.log(JSON.stringify(rounded));
