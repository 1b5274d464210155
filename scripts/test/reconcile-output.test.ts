import { findingKinds, type ReconciliationRun } from "@credits/core";
import { expect, it } from "vitest";
import { summaryTable } from "../src/reconcile-output.ts";

// A run stored before a finding kind existed has no count for it: the table says "-" for that
// kind and totals what the run counted, rather than printing "undefined" and a NaN total.
it("prints a run stored before some finding kinds existed", () => {
  const [older, ...newer] = findingKinds;
  if (!older) throw new Error("expected finding kinds");
  const stats = {
    sessionsSeen: 3,
    sessionsForeign: 0,
    chargesSeen: 2,
    chargesUnmatched: 0,
    paymentsChecked: 2,
    usersChecked: 1,
    findings: { [older]: 2 },
    healed: 1,
    healedByKind: { [older]: 1 },
    healedElsewhere: 0,
    findingsTruncated: false,
    durationMs: 1200,
  } as unknown as ReconciliationRun["stats"];
  const at = new Date("2026-11-01T00:00:00Z");
  const table = summaryTable({
    id: "00000000-0000-4000-8000-000000000001",
    trigger: "cli",
    scheduledFor: null,
    windowStart: at,
    windowEnd: at,
    status: "succeeded",
    stats,
    startedAt: at,
    finishedAt: at,
  });
  expect(table).not.toMatch(/undefined|NaN/);
  expect(table).toMatch(new RegExp(`^${older} +2 +1$`, "m"));
  for (const kind of newer) expect(table).toMatch(new RegExp(`^${kind} +- +-$`, "m"));
  expect(table).toMatch(/^total +2 +1$/m);
});
