// How reconciliation runs read on the admin pages.

export const statusTone = (status: string) =>
  status === "succeeded" ? ("positive" as const) : status === "failed" ? ("negative" as const) : ("warning" as const);

export function statEntries(stats: Record<string, unknown> | null): [string, string][] {
  if (!stats) return [];
  return Object.entries(stats)
    .filter(([, v]) => ["number", "string", "boolean"].includes(typeof v))
    .map(([k, v]) => [
      k
        .replace(/([a-z])([A-Z])/g, "$1 $2")
        .replace(/_/g, " ")
        .toLowerCase(),
      String(v),
    ]);
}
