/**
 * `npm run bench`: every benchmark, progress on stderr, and on the last line of stdout one flat
 * JSON object with dotted keys. Figures are measured on this machine; compare ratios within one
 * run rather than absolute times across machines.
 */
import { deliveryFigures } from "./delivery.ts";
import { hygieneFigures } from "./hygiene.ts";
import { startStack } from "./stack.ts";
import { lookupMicros, syncFigures } from "./sync.ts";

const log = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};

const figures: Record<string, number> = {};
log("timing warm lookups against a 1,000,000-address snapshot (Node)");
figures["sync.lookup.warmMicros"] = await lookupMicros();
log(`warm lookup: ${figures["sync.lookup.warmMicros"].toFixed(2)} µs`);

log("timing the hygiene pipeline against a bare parse (Node)");
Object.assign(figures, await hygieneFigures(log));

log("starting the local stack");
const stack = await startStack();
try {
  Object.assign(figures, await deliveryFigures(stack, log));
  Object.assign(figures, await syncFigures(stack, log));
} finally {
  await stack.stop();
}

const rounded = Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Number.isInteger(v) ? v : Number(v.toFixed(3))]));
console.log(JSON.stringify(rounded));
