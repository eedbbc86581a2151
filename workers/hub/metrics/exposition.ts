/**
 * The Prometheus text exposition format, version 0.0.4: per metric family a `# HELP` and a
 * `# TYPE` line, then one `name{label="value",…} number` line per sample.
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 */

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type MetricType = "gauge" | "counter" | "histogram";
export type Labels = Record<string, string>;

export interface Sample {
  labels?: Labels;
  value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** HELP text: backslash and line feed escaped. */
const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/** A label value: backslash, double quote and line feed escaped. */
export const escapeLabelValue = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** A sample value as the format spells it: NaN, +Inf and -Inf by name, every other number as JavaScript prints it. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(labels: Labels | undefined): string {
  if (labels === undefined) return "";
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  for (const [name] of entries) if (!LABEL_NAME.test(name) || name.startsWith("__")) throw new Error(`invalid label name ${name}`);
  return `{${entries.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(",")}}`;
}

/**
 * Builds one exposition document. Each family is written once, with its samples together, as the
 * format requires.
 *
 * @example
 * const doc = new Exposition();
 * doc.gauge("portcullis_edge_up", "Whether the edge answered.", [{ labels: { edge: "edge-1" }, value: 1 }]);
 * return new Response(doc.text(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
 */
export class Exposition {
  readonly #lines: string[] = [];
  readonly #families = new Set<string>();

  #family(name: string, type: MetricType, help: string): void {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    if (this.#families.has(name)) throw new Error(`metric ${name} written twice`);
    this.#families.add(name);
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  #sample(name: string, sample: Sample): void {
    this.#lines.push(`${name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
  }

  gauge(name: string, help: string, samples: Sample[]): this {
    this.#family(name, "gauge", help);
    for (const s of samples) this.#sample(name, s);
    return this;
  }

  counter(name: string, help: string, samples: Sample[]): this {
    this.#family(name, "counter", help);
    for (const s of samples) this.#sample(name, s);
    return this;
  }

  /**
   * A histogram from per-value counts: cumulative `_bucket{le}` lines for each upper bound (and
   * +Inf), then `_sum` and `_count`.
   */
  histogram(name: string, help: string, bounds: number[], observations: { value: number; count: number }[], labels: Labels = {}): this {
    this.#family(name, "histogram", help);
    let total = 0;
    let sum = 0;
    for (const o of observations) {
      total += o.count;
      sum += o.value * o.count;
    }
    for (const le of [...bounds].sort((a, b) => a - b)) {
      const below = observations.filter((o) => o.value <= le).reduce((n, o) => n + o.count, 0);
      this.#sample(`${name}_bucket`, { labels: { ...labels, le: formatValue(le) }, value: below });
    }
    this.#sample(`${name}_bucket`, { labels: { ...labels, le: "+Inf" }, value: total });
    this.#sample(`${name}_sum`, { labels, value: sum });
    this.#sample(`${name}_count`, { labels, value: total });
    return this;
  }

  /** The document: one line per entry, ending with a line feed. */
  text(): string {
    return this.#lines.join("\n") + "\n";
  }
}
