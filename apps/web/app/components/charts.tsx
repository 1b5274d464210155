import { useId } from "react";

// Small charts drawn as inline SVG (no charting library). Each is a <figure>: the SVG is one
// image whose accessible name summarises it, and the day-by-day figures follow in a table for
// screen readers (visually hidden: the chart shows the same numbers).

export interface Series {
  label: string;
  // A Tailwind text colour class: bars and lines draw in currentColor.
  colorClass: string;
  values: number[];
}

const WIDTH = 640;
const HEIGHT = 240;
const PAD = { top: 14, right: 14, bottom: 40, left: 72 };
const PLOT_W = WIDTH - PAD.left - PAD.right;
const PLOT_H = HEIGHT - PAD.top - PAD.bottom;

const shortDay = new Intl.DateTimeFormat("en", { month: "short", day: "numeric", timeZone: "UTC" });
export const formatDay = (day: string) => shortDay.format(new Date(`${day}T00:00:00Z`));

// Round tick steps (1, 2, 5 × 10^n) covering [min, max] with about four intervals.
function ticks(min: number, max: number): number[] {
  const span = max - min || 1;
  const raw = span / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const start = Math.floor(min / step) * step;
  const out: number[] = [];
  let v = start;
  for (; v < max - step * 0.001; v += step) out.push(Math.round(v * 1e6) / 1e6);
  out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

export function Chart({
  title,
  description,
  days,
  series,
  kind,
  format,
  axisFormat = format,
  testId,
}: {
  title: string;
  description?: string;
  days: string[];
  series: Series[];
  kind: "bar" | "line";
  format: (value: number) => string;
  axisFormat?: (value: number) => string;
  testId?: string;
}) {
  const id = useId();
  const all = series.flatMap((s) => s.values);
  const tickValues = ticks(Math.min(0, ...all), Math.max(0, ...all, 1));
  const low = tickValues[0] ?? 0;
  const high = tickValues.at(-1) ?? 1;
  const y = (v: number) => PAD.top + PLOT_H - ((v - low) / (high - low || 1)) * PLOT_H;
  const slot = PLOT_W / Math.max(days.length, 1);
  const x = (i: number) => PAD.left + slot * i + slot / 2;
  const labelled = days.length <= 1 ? [0] : [0, Math.floor((days.length - 1) / 2), days.length - 1];
  const totals = series.map((s) => `${s.label}: ${format(s.values.reduce((a, b) => a + b, 0))}`).join("; ");
  const first = days[0];
  const last = days.at(-1);
  const summary = `${title}, ${days.length} days${first && last ? ` from ${formatDay(first)} to ${formatDay(last)}` : ""}. Totals: ${totals}.`;
  const barWidth = Math.max(1, (slot * 0.75) / Math.max(series.length, 1));

  return (
    <figure className="rounded-2xl border border-slate-200 bg-white p-5 shadow-sm" data-testid={testId}>
      <figcaption>
        <span className="block font-semibold text-slate-900">{title}</span>
        {description ? <span className="mt-0.5 block text-sm text-slate-500">{description}</span> : null}
      </figcaption>
      <ul className="mt-3 flex flex-wrap gap-x-4 gap-y-1 text-sm text-slate-600" aria-hidden="true">
        {series.map((s) => (
          <li key={s.label} className="flex items-center gap-1.5">
            <span className={`inline-block size-3 rounded-sm bg-current ${s.colorClass}`} />
            {s.label}
          </li>
        ))}
      </ul>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={summary}
        className="mt-2 h-auto w-full"
        preserveAspectRatio="xMidYMid meet"
      >
        <g className="text-slate-400" fontSize="17" fill="currentColor">
          {tickValues.map((t) => (
            <g key={t}>
              <line
                x1={PAD.left}
                x2={WIDTH - PAD.right}
                y1={y(t)}
                y2={y(t)}
                stroke="currentColor"
                strokeOpacity={t === 0 ? 0.9 : 0.3}
                strokeDasharray={t === 0 ? undefined : "3 4"}
              />
              <text x={PAD.left - 8} y={y(t)} dy="0.32em" textAnchor="end" className="fill-slate-500">
                {axisFormat(t)}
              </text>
            </g>
          ))}
          {labelled.map((i) =>
            days[i] ? (
              <text
                key={i}
                x={x(i)}
                y={HEIGHT - 10}
                textAnchor={i === 0 ? "start" : i === days.length - 1 ? "end" : "middle"}
                className="fill-slate-500"
              >
                {formatDay(days[i])}
              </text>
            ) : null,
          )}
        </g>
        {series.map((s, si) =>
          kind === "bar" ? (
            <g key={s.label} className={s.colorClass} fill="currentColor">
              {s.values.map((v, i) => {
                if (v === 0) return null;
                const top = Math.min(y(v), y(0));
                const left = x(i) - (barWidth * series.length) / 2 + barWidth * si;
                return (
                  <rect
                    key={days[i]}
                    x={left}
                    y={top}
                    width={barWidth}
                    height={Math.max(1, Math.abs(y(v) - y(0)))}
                    rx={1}
                  />
                );
              })}
            </g>
          ) : (
            <g key={s.label} className={s.colorClass}>
              <polyline
                fill="none"
                stroke="currentColor"
                strokeWidth="2.5"
                strokeLinejoin="round"
                strokeLinecap="round"
                points={s.values.map((v, i) => `${x(i)},${y(v)}`).join(" ")}
              />
              {s.values.map((v, i) =>
                v !== 0 ? <circle key={days[i]} cx={x(i)} cy={y(v)} r="3" fill="currentColor" /> : null,
              )}
            </g>
          ),
        )}
      </svg>
      <table className="sr-only" aria-labelledby={`${id}-caption`}>
        <caption id={`${id}-caption`}>{title}: figures per day</caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            {series.map((s) => (
              <th key={s.label} scope="col">
                {s.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {days.map((day, i) => (
            <tr key={day}>
              <th scope="row">{formatDay(day)}</th>
              {series.map((s) => (
                <td key={s.label}>{format(s.values[i] ?? 0)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
