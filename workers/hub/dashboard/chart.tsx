import type { FC } from "hono/jsx";
import type { FlowBucket } from "../tracking/queries.ts";

/** The series, bottom to top, with their colours (also in the legend's CSS). */
export const SERIES = [
  { key: "accepted", color: "#2e7d32" },
  { key: "rejected", color: "#c62828" },
  { key: "quarantined", color: "#ef8f00" },
  { key: "spooled", color: "#1f5fbf" },
  { key: "tempfailed", color: "#8e5bb5" },
] as const;

const WIDTH = 960;
const HEIGHT = 260;
const LEFT = 44;
const RIGHT = 8;
const TOP = 10;
const BOTTOM = 26;

/** A round ceiling for the y axis: 1, 2 or 5 times a power of ten. */
function niceMax(n: number): number {
  if (n <= 5) return 5;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (step * power >= n) return step * power;
  return 10 * power;
}

function hourLabel(at: string): string {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? at : `${d.toISOString().slice(11, 16)}`;
}

/**
 * Stacked bars, one per bucket, drawn on the server as inline SVG (no script, no external
 * resources). Each bar segment carries a <title> with its count, for a hover tooltip.
 */
export const FlowChart: FC<{ buckets: FlowBucket[] }> = ({ buckets }) => {
  const totals = buckets.map((b) => SERIES.reduce((sum, s) => sum + b[s.key], 0));
  const max = niceMax(Math.max(0, ...totals));
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const slot = buckets.length === 0 ? plotW : plotW / buckets.length;
  const barW = Math.max(1, slot * 0.72);
  const y = (v: number) => TOP + plotH - (v / max) * plotH;
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 12));
  return (
    <svg
      class="flow-chart"
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      width="100%"
      role="img"
      aria-label={`Mail flow: ${totals.reduce((a, b) => a + b, 0)} messages in ${buckets.length} buckets`}
    >
      {[0, max / 2, max].map((v) => (
        <g>
          <line x1={LEFT} x2={WIDTH - RIGHT} y1={y(v)} y2={y(v)} stroke="#d8dde3" stroke-width="1" />
          <text x={LEFT - 6} y={y(v) + 4} text-anchor="end" font-size="11" fill="#5d6875">
            {String(v)}
          </text>
        </g>
      ))}
      {buckets.map((b, i) => {
        const x = LEFT + i * slot + (slot - barW) / 2;
        let base = 0;
        return (
          <g class="bucket" data-at={b.at}>
            {SERIES.map((s) => {
              const n = b[s.key];
              if (n === 0) return null;
              const top = y(base + n);
              const height = y(base) - top;
              base += n;
              return (
                <rect
                  class={`bar bar-${s.key}`}
                  data-series={s.key}
                  data-count={String(n)}
                  x={x.toFixed(1)}
                  y={top.toFixed(1)}
                  width={barW.toFixed(1)}
                  height={height.toFixed(1)}
                  fill={s.color}
                >
                  <title>{`${hourLabel(b.at)}: ${n} ${s.key}`}</title>
                </rect>
              );
            })}
            {i % labelEvery === 0 ? (
              <text x={(LEFT + i * slot + slot / 2).toFixed(1)} y={HEIGHT - 8} text-anchor="middle" font-size="11" fill="#5d6875">
                {hourLabel(b.at)}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
};

/** The chart's legend, with each series' total. */
export const FlowLegend: FC<{ buckets: FlowBucket[] }> = ({ buckets }) => (
  <div class="legend">
    {SERIES.map((s) => (
      <span data-series={s.key}>
        <i class={`sw-${s.key}`} />
        {`${s.key} ${buckets.reduce((sum, b) => sum + b[s.key], 0)}`}
      </span>
    ))}
  </div>
);
