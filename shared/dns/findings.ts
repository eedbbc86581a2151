/** A check's result before the report names it. */
export interface CheckOutcome {
  status: "pass" | "warn" | "fail";
  records: string[];
  summary: string;
  fix: string | null;
}

/** What a DNS check found wrong, collected as it reads a record, and how each is put right. */
export class Findings {
  readonly #items: { severity: "warn" | "fail"; finding: string; fix: string }[] = [];

  warn(finding: string, fix: string): this {
    this.#items.push({ severity: "warn", finding, fix });
    return this;
  }

  fail(finding: string, fix: string): this {
    this.#items.push({ severity: "fail", finding, fix });
    return this;
  }

  /**
   * The check's result: `pass` with `found` when nothing was wrong, otherwise the worst severity,
   * with every finding after `found` and every fix, in the order they were found.
   */
  outcome(records: string[], found?: string): CheckOutcome {
    const summary = [found, ...this.#items.map((i) => i.finding)].filter((s) => s !== undefined).join(" ");
    if (this.#items.length === 0) return { status: "pass", records, summary, fix: null };
    const status = this.#items.some((i) => i.severity === "fail") ? "fail" : "warn";
    return { status, records, summary, fix: this.#items.map((i) => i.fix).join(" ") };
  }
}

/** A finding with its fix, as {@link exactlyOne} takes them. */
export type Finding = [severity: "warn" | "fail", finding: string, fix: string];

/**
 * The outcome for a name that must hold exactly one record of a kind: `missing` when it holds
 * none, `several(n)` when it holds n > 1; null when there is exactly one, to be checked further.
 */
export function exactlyOne(records: string[], missing: Finding, several: (n: number) => Finding): CheckOutcome | null {
  if (records.length === 1) return null;
  const [severity, finding, fix] = records.length === 0 ? missing : several(records.length);
  return new Findings()[severity](finding, fix).outcome(records);
}

/**
 * The tags of a `tag=value; tag=value` record (DMARC, MTA-STS, TLS-RPT), names in lower case,
 * values trimmed; the first of a repeated tag wins.
 *
 * @example
 * tagValues("v=DMARC1; p=reject; rua=mailto:d@example.com").get("p") // "reject"
 */
export function tagValues(record: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of record.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    if (name !== "" && !tags.has(name)) tags.set(name, part.slice(eq + 1).trim());
  }
  return tags;
}
