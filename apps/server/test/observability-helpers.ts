// Shared by the observability tests: reading /metrics as numbers.

export interface MetricsReader {
  text: string;
  // The sum of every series of `name` whose labels include `labels` (0 when there is none).
  value(name: string, labels?: Record<string, string>): number;
  has(name: string): boolean;
}

export async function scrape(base: string, headers: Record<string, string> = {}): Promise<MetricsReader> {
  const response = await fetch(`${base}/metrics`, { headers });
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}: ${await response.text()}`);
  return parseMetrics(await response.text());
}

export function parseMetrics(text: string): MetricsReader {
  const series: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match?.[1] || !match[3]) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      if (pair[1]) labels[pair[1]] = pair[2] ?? "";
    }
    series.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return {
    text,
    value: (name, wanted = {}) =>
      series
        .filter((s) => s.name === name && Object.entries(wanted).every(([key, value]) => s.labels[key] === value))
        .reduce((sum, s) => sum + s.value, 0),
    has: (name) => series.some((s) => s.name === name),
  };
}
