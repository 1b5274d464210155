// The bench's command line: flags (--quick), numbers (--duration 5, --duration=5) and
// `--only spend@4,users/{id}/credits@64`: only the named scenarios (scenario@connections, API and
// bare alike; "webhook@16", "pgbench@0"), to measure or profile one path without the others' work in
// the same server process. The seeding is the same; the ratios of the scenarios run are printed.
const args = process.argv.slice(2);
const argValue = (name: string, from: string[] = args): string | undefined => {
  const index = from.indexOf(`--${name}`);
  const inline = from.find((a) => a.startsWith(`--${name}=`));
  return inline ? inline.slice(name.length + 3) : index >= 0 ? from[index + 1] : undefined;
};

export const flag = (name: string) => args.includes(`--${name}`);

export const option = (name: string, fallback: number) => {
  const raw = argValue(name);
  return raw === undefined ? fallback : Number(raw);
};

// The names `--only` gives, or null without it (exported for its test, which needs no process).
export const parseOnly = (from: string[]): Set<string> | null => {
  const names = argValue("only", from);
  return names === undefined ? null : new Set(names.split(",").map((name) => name.trim()));
};
const selected = parseOnly(args);
export const onlySome = selected !== null;
export const only = (scenario: string, connections: number) =>
  selected === null || selected.has(`${scenario}@${connections}`);

// A name that matches no scenario (a typo, another connection count) would run none and still
// write a report and exit 0: refused, with the names there are, before any database is made.
export function checkOnly(known: string[], names: Set<string> | null = selected) {
  const unknown = [...(names ?? [])].filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new Error(
      `--only: no such scenario ${unknown.map((n) => JSON.stringify(n)).join(", ")}; the scenarios are ${known.join(", ")}`,
    );
  }
}
