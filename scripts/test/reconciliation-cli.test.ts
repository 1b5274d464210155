import { describe, expect, it } from "vitest";
import { cliHarness } from "./cli-harness.ts";

// `pnpm cli reconcile`: stderr is not a terminal, so progress comes as plain lines.
const { cli } = await cliHarness();

describe("pnpm cli reconcile", () => {
  it("runs a reconciliation for the window and prints the summary table", async () => {
    const since = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const { code, stdout, stderr } = await cli(["reconcile", "--since", since]);
    expect(stderr).not.toContain("\x1b[");
    expect(stderr.trim().split("\n")).toEqual([
      "reconcile: 1/4 sessions (0 sessions, 0 charges, 0 payments, 0 findings)",
      "reconcile: 2/4 charges (0 sessions, 0 charges, 0 payments, 0 findings)",
      "reconcile: 3/4 payments (0 sessions, 0 charges, 0 payments, 0 findings)",
      "reconcile: 4/4 ledger (0 sessions, 0 charges, 0 payments, 0 findings)",
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^run {8}[0-9a-f-]{36} \(cli, succeeded\)$/m);
    expect(stdout).toContain(`window     ${since} .. `);
    // The off-session PaymentIntents (auto top-ups) listed, as the admin API's run shows them.
    expect(stdout).toMatch(/^seen .*, 0 charges \(0 unmatched\), 0 auto top-up PaymentIntents, 0 payments, /m);
    for (const kind of ["missing_credit", "unexpected_credit", "refund_not_clawed_back", "amount_mismatch"]) {
      expect(stdout).toMatch(new RegExp(`^${kind} +0 +0$`, "m"));
    }
    expect(stdout).toMatch(/^total +0 +0$/m);
  });

  it("refuses a date it cannot read, and a window longer than a month", async () => {
    const unreadable = await cli(["reconcile", "--since", "last tuesday"]);
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr.trim()).toBe("error: --since must be an ISO date");
    const tooLong = await cli(["reconcile", "--since", "2020-01-01"]);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr.trim()).toBe("error: the window may span at most 31 days");
    expect(tooLong.stdout).toBe("");
  });
});
